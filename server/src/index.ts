// @aiki/server: the Aiki server as a library: read its configuration, open its store and
// notifier, serve; and provision namespaces and API keys straight in its database. main.ts is
// the program built on it. The server's own modules import each other directly, not through here.

// Serving
export { createServer, aikiServices, type AikiServer, type AppDeps } from "./app.js";
export { loadConfig, ConfigError, type Config } from "./config.js";
export { openDependencies, type Dependencies, type DependencyOptions } from "./dependencies.js";
export { createLogger } from "./logger.js";
export { defaultLimits, limitVariables, type Limits } from "./limits.js";
export { defaultConnectionLimits, type ConnectionLimits } from "./listen-one-port.js";
export { LocalSessions } from "./engine/local-sessions.js";
export { channels, type Notifier } from "./notify/notifier.js";

// The store
export { openDatabase, type Database, type DatabaseOptions, type Db, type OpenedDatabase } from "./store/database.js";
export { migrateToLatest, MigrationFailedError } from "./store/migrate.js";

// Namespaces and API keys, without a running server
export { createNamespace, deleteNamespace, listNamespaces } from "./engine/namespaces.js";
export { AdminKeyError, createApiKey, ensureAdminKey, listApiKeys, revokeApiKey, type NewKey } from "./engine/api-keys.js";
export { apiKeyScopes, namespacePattern, type ApiKeyScope } from "./domain/api-key-format.js";

// Errors: every refusal is an AikiDomainError (the API maps each to a gRPC code in api/errors.ts)
export { AikiDomainError } from "./domain/errors.js";
export { ApiKeyNotFoundError, NamespaceExistsError, NamespaceNotEmptyError, NamespaceNotFoundError } from "./domain/auth-errors.js";
