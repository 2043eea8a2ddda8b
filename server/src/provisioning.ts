// @aiki/server/provisioning: the server's store without the server, for tools that provision it
// directly (the CLI's first admin key and namespaces, before any key exists to call a server
// with). Lighter to load than the package entry: no serving, no notifier.

export { ConfigError, loadConfig } from "./config.js";
export { AikiDomainError } from "./domain/errors.js";
export { openDatabase, type Db } from "./store/database.js";
export { migrateToLatest } from "./store/migrate.js";
export { createNamespace } from "./engine/namespaces.js";
export { createApiKey } from "./engine/api-keys.js";
export { apiKeyToPb, namespaceToPb } from "./api/admin-service-handler.js";
