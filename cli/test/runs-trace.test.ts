// `aiki runs start --traceparent` and the trace context in `aiki runs get` (docs/tracing.md).
import { beforeAll, expect, it } from "vitest";
import { runCli } from "../../test/support/aiki-cli.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

let aiki: TestAiki;
const h = useTestAiki();
beforeAll(async () => {
  aiki = h.aiki;
});

it("starts a run in a trace and shows it; a malformed traceparent exits 1 naming the field", async () => {
  const env = { env: { AIKI_URL: aiki.url } };
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const started = await runCli(["runs", "start", "traced-cli", "1", "--traceparent", traceparent, "--json"], env);
  expect(started.code).toBe(0);
  const runId = (JSON.parse(started.stdout) as { run: { id: string } }).run.id;
  const shown = await runCli(["runs", "get", runId], env);
  expect(shown.stdout).toMatch(new RegExp(`^Trace\\s+${traceparent}$`, "m"));
  const refused = await runCli(["runs", "start", "traced-cli", "1", "--traceparent", "not-a-trace"], env);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("trace_context.traceparent");
});
