import type { ApiKeyScope } from "./api-key-format.js";
import { AikiDomainError } from "./errors.js";

/** Why a call carried no usable key; also the `reason` label of aiki_auth_failures_total. */
export type UnauthenticatedReason = "missing" | "malformed" | "unknown" | "revoked" | "expired";

const explanations: Record<UnauthenticatedReason, string> = {
  missing: "no API key: send `authorization: Bearer <key>`",
  malformed: "the API key is malformed: expected `authorization: Bearer aiki_<prefix>_<secret>`",
  unknown: "the API key is unknown",
  revoked: "the API key was revoked",
  expired: "the API key has expired",
};

/** The call's key is missing or unusable. The message never contains the key. */
export class UnauthenticatedError extends AikiDomainError {
  readonly kind = "unauthenticated";
  constructor(readonly reason: UnauthenticatedReason) {
    super(explanations[reason]);
    this.name = "UnauthenticatedError";
  }
}

/**
 * The key is valid but lacks the scope the method needs; `requiredScope` undefined: the method is
 * in no scope at all (a method the server does not know how to authorize is refused to everyone).
 */
export class PermissionDeniedError extends AikiDomainError {
  readonly kind = "permission_denied";
  constructor(
    readonly requiredScope: ApiKeyScope | undefined,
    readonly method: string,
  ) {
    super(requiredScope ? `${method} needs an API key with scope "${requiredScope}" (or "admin")` : `${method} is open to no API key`);
    this.name = "PermissionDeniedError";
  }
}

export class NamespaceNotFoundError extends AikiDomainError {
  readonly kind = "namespace_not_found";
  constructor(readonly namespace: string) {
    super(`namespace "${namespace}" not found`);
    this.name = "NamespaceNotFoundError";
  }
}

export class NamespaceExistsError extends AikiDomainError {
  readonly kind = "namespace_exists";
  constructor(readonly namespace: string) {
    super(`namespace "${namespace}" already exists`);
    this.name = "NamespaceExistsError";
  }
}

/** A namespace still holds runs, schedules or live keys, so it cannot be deleted. */
export class NamespaceNotEmptyError extends AikiDomainError {
  readonly kind = "namespace_not_empty";
  constructor(
    readonly namespace: string,
    readonly holds: readonly string[],
  ) {
    super(`namespace "${namespace}" is not empty: it still holds ${holds.join(", ")}`);
    this.name = "NamespaceNotEmptyError";
  }
}

export class ApiKeyNotFoundError extends AikiDomainError {
  readonly kind = "api_key_not_found";
  constructor(readonly keyId: string) {
    super(`API key ${keyId} not found`);
    this.name = "ApiKeyNotFoundError";
  }
}
