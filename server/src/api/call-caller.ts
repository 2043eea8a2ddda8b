import { createContextKey, type HandlerContext } from "@connectrpc/connect";

/**
 * Who makes a call, for the limits counted per caller (held waits, open streams): the API key's
 * id when the call is authenticated (api/auth-interceptor.ts), else the remote address.
 * Handlers ask `callerOf(ctx)`, nothing else.
 */
export const callerKey = createContextKey<string>("unknown", { description: "aiki caller of the call" });

export function callerOf(ctx: HandlerContext): string {
  return ctx.values.get(callerKey);
}
