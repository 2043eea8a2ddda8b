import { createContextKey, type HandlerContext } from "@connectrpc/connect";

/** The namespace every call acts in while authentication is off. */
export const defaultNamespace = "default";

/**
 * The namespace a call acts in. An interceptor that authenticates the call sets it from the
 * caller's key; without one every call is in the default namespace. Never read a namespace from a
 * request body: handlers ask this, once per call.
 */
export const callNamespaceKey = createContextKey<string>(defaultNamespace, { description: "aiki namespace of the call" });

export function namespaceOf(ctx: HandlerContext): string {
  return ctx.values.get(callNamespaceKey);
}
