import { createContextKey, type HandlerContext } from "@connectrpc/connect";

/**
 * Who makes a call, for the limits counted per caller (held waits, open streams). Until calls
 * are authenticated it is the remote address; an authenticating interceptor sets it to the API
 * key's id instead. Handlers ask `callerOf(ctx)`, nothing else.
 */
export const callerKey = createContextKey<string>("unknown", { description: "aiki caller of the call" });

export function callerOf(ctx: HandlerContext): string {
  return ctx.values.get(callerKey);
}
