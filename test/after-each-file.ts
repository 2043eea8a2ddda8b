// Vitest setup file: runs in every test file. Its afterAll, registered before the file's own
// hooks, runs after them, when the file has destroyed (and so checked) its test databases: it
// checks those the file did not destroy, so that no test file's run history escapes the state
// machine's check (test/support/check-run-transitions.ts).
import { afterAll } from "vitest";
import { checkLiveDatabases } from "./support/database.js";

afterAll(checkLiveDatabases);
