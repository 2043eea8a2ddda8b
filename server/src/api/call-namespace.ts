import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { apiKeyScopes } from "../domain/api-key-format.js";
import type { CallIdentity } from "../engine/api-key-verifier.js";

/** The namespace every call acts in while authentication is off. */
export const defaultNamespace = "default";

/**
 * The namespace a call acts in. The auth interceptor (api/auth-interceptor.ts) sets it from the
 * caller's key; with authentication off every call is in the default namespace. Never read a
 * namespace from a request body: handlers ask this, once per call.
 */
export const callNamespaceKey = createContextKey<string>(defaultNamespace, { description: "aiki namespace of the call" });

export function namespaceOf(ctx: HandlerContext): string {
  return ctx.values.get(callNamespaceKey);
}

/** Who the call is (WhoAmI); with authentication off: namespace "default", every scope, no key. */
export const callIdentityKey = createContextKey<CallIdentity>(
  { namespace: defaultNamespace, scopes: apiKeyScopes, keyId: undefined },
  { description: "aiki identity of the call" },
);

export function identityOf(ctx: HandlerContext): CallIdentity {
  return ctx.values.get(callIdentityKey);
}
