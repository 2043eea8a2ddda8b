#!/usr/bin/env node
// The `aiki` command (the root package's bin: `npx aiki ...`). Node 20 cannot run TypeScript, so
// this registers tsx's loader in this process and runs cli/src/main.ts: no build step.
import { register } from "tsx/esm/api";

// `aiki runs list | head`: a reader that went away is no error.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

register();
const { main } = await import("../cli/src/main.ts");
process.exitCode = await main(process.argv.slice(2));
