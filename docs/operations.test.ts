// Executes every recipe of docs/operations.md against a live server, so the page cannot go stale:
// each ```bash block (buf curl) runs in bash with the server's URL and a real <run-id> put in;
// its JSON answer is checked; the "CLI:" line runs too; the "grpcurl:" line must send the same
// body to the same method (grpcurl itself is not packaged by Debian, so it is not run).
import { readFileSync } from "node:fs";
import { fromJson } from "@bufbuild/protobuf";
import { durationFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { aikiBin, type CliResult, runCommand } from "../test/support/aiki-cli.js";
import type { TestAiki } from "../test/support/aiki-server.js";
import { useTestAiki } from "../test/support/use-test-aiki.js";
import { childRunKey, taskAddress } from "../server/src/engine/canonical-json.js";

const page = readFileSync(new URL("./operations.md", import.meta.url), "utf8");
const documentedUrl = "http://127.0.0.1:9850";
const documentedAuthority = "127.0.0.1:9850";

interface Recipe {
  name: string;
  /** The bash block. */
  command: string;
  /** The text of the "grpcurl:" line's code span. */
  grpcurl: string | undefined;
  /** The text of the "CLI:" line's code span. */
  cli: string | undefined;
}

/** Every `<!-- recipe: name -->` with the ```bash block under it and its grpcurl/CLI lines. */
function parseRecipes(markdown: string): Recipe[] {
  const lines = markdown.split("\n");
  const recipes: Recipe[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!-- recipe: ([a-z0-9-]+) -->$/.exec(lines[i]!);
    if (!marker) continue;
    if (lines[i + 1] !== "```bash") throw new Error(`recipe ${marker[1]}: a \`\`\`bash block must follow its marker`);
    const end = lines.indexOf("```", i + 2);
    const recipe: Recipe = { name: marker[1]!, command: lines.slice(i + 2, end).join("\n"), grpcurl: undefined, cli: undefined };
    for (let j = end + 1; j < lines.length && !/^(#|<!-- recipe)/.test(lines[j]!); j++) {
      const line = /^(grpcurl|CLI): `([^`]+)`/.exec(lines[j]!);
      if (line?.[1] === "grpcurl") recipe.grpcurl = line[2];
      if (line?.[1] === "CLI") recipe.cli = line[2];
    }
    recipes.push(recipe);
  }
  return recipes;
}

const recipes = parseRecipes(page);

const h = useTestAiki();
let aiki: TestAiki;
let runs: Client<typeof RunService>;
let leases: Client<typeof WorkerLeaseService>;
let tasks: Client<typeof TaskService>;
let events: Client<typeof EventService>;

beforeAll(() => {
  aiki = h.aiki;
  runs = aiki.client(RunService);
  leases = aiki.client(WorkerLeaseService);
  tasks = aiki.client(TaskService);
  events = aiki.client(EventService);
});

const workflowName = "restaurant-order";
const workflowVersionId = "1.0.0";
const json = (v: unknown) => fromJson(ValueSchema, v as never);

/** A queued restaurant-order run. */
const queuedRun = async () => (await runs.startRun({ workflowName, workflowVersionId, input: json({ orderId: `o-${Math.random()}` }) })).run!;

/** The run of the page's examples: reference id order-123 (starting it again returns it). */
const order123 = async () => (await runs.startRun({ workflowName, workflowVersionId, input: json({ orderId: "order-123" }), referenceId: "order-123" })).run!;

/** A running restaurant-order run, leased by `workerId`; on a shard of its own so no other lease takes it. */
async function leasedRun(workerId = "ops-worker") {
  const shard = h.uniqueName("ops");
  const run = (await runs.startRun({ workflowName, workflowVersionId, shard })).run!;
  const res = await leases.pollLeases({
    workerId,
    workerName: "operations page test",
    workflows: [{ workflowName, workflowVersionId }],
    shards: [shard],
    maxLeases: 1,
    wait: durationFromMs(5_000),
  });
  const lease = res.leases[0]!;
  expect(lease.run?.id).toBe(run.id);
  return { run, fence: { runId: run.id, leaseToken: lease.leaseToken } };
}

interface Setup {
  /** Placeholder values, e.g. { "<run-id>": "0190…" }. */
  vars: Record<string, string>;
  /** Checks the recipe's answer (stdout of buf curl). */
  check(stdout: string): void;
}

/** The JSON answer of buf curl, as `T` where a check reads into it (its fields otherwise unknown). */
const parse = <T = Record<string, unknown>>(stdout: string): T => JSON.parse(stdout) as T;

/** What each recipe needs before it runs, and what its answer must say. Fresh state per call. */
const setups: Record<string, () => Promise<Setup>> = {
  "list-methods": async () => ({
    vars: {},
    check: (out) => {
      for (const m of ["aiki.v1.RunService/ListRuns", "aiki.v1.EventService/SendEvent", "aiki.v1.WorkerLeaseService/ListWorkers"]) expect(out).toContain(m);
    },
  }),
  "health-check": async () => ({ vars: {}, check: (out) => expect(parse(out)).toEqual({ status: "SERVING" }) }),
  "start-run": async () => ({
    vars: {},
    check: (out) => expect(parse(out).run).toMatchObject({ workflowName, referenceId: "order-123", input: { orderId: "order-123" } }),
  }),
  "list-runs": async () => {
    const queued = await queuedRun();
    const { run: running } = await leasedRun();
    const cancelled = await queuedRun();
    await runs.cancelRun({ runId: cancelled.id });
    return {
      vars: {},
      check: (out) => {
        const listed = parse<{ runs: Array<{ id: string; status: string }> }>(out).runs;
        expect(listed.map((r) => r.id)).toEqual(expect.arrayContaining([queued.id, running.id]));
        expect(listed.map((r) => r.id)).not.toContain(cancelled.id);
        expect(new Set(listed.map((r) => r.status))).toEqual(new Set(["RUN_STATUS_QUEUED", "RUN_STATUS_RUNNING"]));
      },
    };
  },
  "count-runs": async () => {
    await queuedRun();
    const cancelled = await queuedRun();
    await runs.cancelRun({ runId: cancelled.id });
    return {
      vars: {},
      check: (out) => {
        const { counts, total } = parse(out) as { counts: Array<{ status: string; count: string }>; total: string };
        const byStatus = Object.fromEntries(counts.map((c) => [c.status, Number(c.count)]));
        expect(byStatus.RUN_STATUS_QUEUED).toBeGreaterThanOrEqual(1);
        expect(byStatus.RUN_STATUS_CANCELLED).toBeGreaterThanOrEqual(1);
        expect(Number(total)).toBe(counts.reduce((sum, c) => sum + Number(c.count), 0));
      },
    };
  },
  "get-run": async () => {
    const run = await queuedRun();
    return { vars: { "<run-id>": run.id }, check: (out) => expect(parse(out).run).toMatchObject({ id: run.id, status: "RUN_STATUS_QUEUED" }) };
  },
  "get-run-by-reference": async () => {
    const run = await order123();
    return { vars: {}, check: (out) => expect(parse(out).run).toMatchObject({ id: run.id, referenceId: "order-123" }) };
  },
  "run-history": async () => {
    const run = await queuedRun();
    await runs.pauseRun({ runId: run.id, reason: "look" });
    return {
      vars: { "<run-id>": run.id },
      check: (out) =>
        expect(parse(out).transitions).toMatchObject([
          { revision: 1, toStatus: "RUN_STATUS_QUEUED", actor: "client" },
          { revision: 2, fromStatus: "RUN_STATUS_QUEUED", toStatus: "RUN_STATUS_PAUSED", reason: "look" },
        ]),
    };
  },
  "run-full-history": async () => {
    const { run, fence } = await leasedRun();
    const { task } = await tasks.startTask({
      ...fence,
      name: "notify-restaurant",
      address: taskAddress("notify-restaurant", undefined),
      sequence: 0,
      maxAttempts: 1,
    });
    await tasks.completeTask({ ...fence, taskId: task!.id, attempt: 1, output: json({ notified: true }) });
    await leases.suspendRun({ ...fence, wait: { case: "eventWait", value: { eventName: "restaurant-accepted", sequence: 0 } } });
    await events.sendEvent({ targets: [{ target: { case: "runId", value: run.id } }], eventName: "restaurant-accepted", data: json({ etaMinutes: 5 }) });
    return {
      vars: { "<run-id>": run.id },
      check: (out) => {
        const { history, events: sent } = parse<{ history: { tasks: unknown; eventWaits: Array<{ startTime: string; endTime: string }> }; events: unknown }>(
          out,
        );
        expect(history.tasks).toMatchObject([{ name: "notify-restaurant", status: "TASK_STATUS_COMPLETED", output: { notified: true } }]);
        expect(history.eventWaits).toMatchObject([
          { eventName: "restaurant-accepted", status: "EVENT_WAIT_STATUS_RECEIVED", event: { data: { etaMinutes: 5 } } },
        ]);
        expect(history.eventWaits[0]!.startTime).toMatch(/^\d{4}-/);
        expect(history.eventWaits[0]!.endTime).toMatch(/^\d{4}-/);
        expect(sent).toMatchObject([{ name: "restaurant-accepted", consumed: true }]);
      },
    };
  },
  "run-tasks": async () => {
    const { run, fence } = await leasedRun();
    const { task } = await tasks.startTask({
      ...fence,
      name: "notify-restaurant",
      address: taskAddress("notify-restaurant", undefined),
      sequence: 0,
      maxAttempts: 1,
    });
    await tasks.completeTask({ ...fence, taskId: task!.id, attempt: 1, output: json({ notified: true }) });
    return {
      vars: { "<run-id>": run.id },
      check: (out) =>
        expect(parse(out).tasks).toMatchObject([{ name: "notify-restaurant", status: "TASK_STATUS_COMPLETED", attempts: 1, output: { notified: true } }]),
    };
  },
  "run-events": async () => {
    const run = await queuedRun();
    await events.sendEvent({ targets: [{ target: { case: "runId", value: run.id } }], eventName: "restaurant-accepted", data: json({ etaMinutes: 5 }) });
    return {
      vars: { "<run-id>": run.id },
      check: (out) => expect(parse(out).events).toMatchObject([{ runId: run.id, name: "restaurant-accepted", data: { etaMinutes: 5 } }]),
    };
  },
  "child-runs": async () => {
    const { run, fence } = await leasedRun();
    const child = await leases.startChildRun({
      parentRunId: run.id,
      leaseToken: fence.leaseToken,
      workflowName: "courier-dispatch",
      workflowVersionId: "1.0.0",
      key: childRunKey(undefined, undefined),
      sequence: 0,
    });
    return { vars: { "<run-id>": run.id }, check: (out) => expect(parse(out).runs).toMatchObject([{ id: child.run!.id, parentRunId: run.id }]) };
  },
  "wait-for-status": async () => {
    const { run, fence } = await leasedRun();
    await leases.completeRun({ ...fence, output: json({ delivered: true }) });
    return {
      vars: { "<run-id>": run.id },
      check: (out) =>
        expect(parse(out)).toMatchObject({ outcome: "OUTCOME_REACHED", run: { id: run.id, status: "RUN_STATUS_COMPLETED", output: { delivered: true } } }),
    };
  },
  "send-event": async () => {
    const run = await queuedRun();
    return {
      vars: { "<run-id>": run.id },
      check: (out) =>
        expect(parse(out).deliveries).toMatchObject([
          { event: { runId: run.id, name: "restaurant-accepted", data: { etaMinutes: 25 }, referenceId: "accept-1" } },
        ]),
    };
  },
  "send-event-by-reference": async () => {
    const run = await order123();
    return { vars: {}, check: (out) => expect(parse(out).deliveries).toMatchObject([{ event: { runId: run.id, name: "restaurant-accepted" } }]) };
  },
  cancel: async () => {
    const run = await queuedRun();
    return {
      vars: { "<run-id>": run.id },
      check: (out) => expect(parse(out).run).toMatchObject({ id: run.id, status: "RUN_STATUS_CANCELLED", statusReason: "customer left" }),
    };
  },
  pause: async () => {
    const { run } = await leasedRun();
    return { vars: { "<run-id>": run.id }, check: (out) => expect(parse(out).run).toMatchObject({ id: run.id, status: "RUN_STATUS_PAUSED" }) };
  },
  resume: async () => {
    const run = await queuedRun();
    await runs.pauseRun({ runId: run.id });
    return { vars: { "<run-id>": run.id }, check: (out) => expect(parse(out).run).toMatchObject({ id: run.id, status: "RUN_STATUS_QUEUED" }) };
  },
  awake: async () => {
    const { run, fence } = await leasedRun();
    await leases.suspendRun({ ...fence, wait: { case: "sleep", value: { name: "cool-down", sequence: 0, duration: durationFromMs(3_600_000) } } });
    return { vars: { "<run-id>": run.id }, check: (out) => expect(parse(out).run).toMatchObject({ id: run.id, status: "RUN_STATUS_QUEUED" }) };
  },
  rerun: async () => {
    const run = await queuedRun();
    await runs.cancelRun({ runId: run.id });
    return {
      vars: { "<run-id>": run.id },
      check: (out) => expect(parse(out).run).toMatchObject({ rerunOf: run.id, status: "RUN_STATUS_QUEUED", fromStep: { historyEnd: {}, lastFailure: true } }),
    };
  },
  "list-workers": async () => {
    const { run } = await leasedRun("ops-worker-7");
    return {
      vars: {},
      check: (out) => {
        const worker = parse<{ workers: Array<{ workerId: string; leasedRunIds: string[] }> }>(out).workers.find((w) => w.workerId === "ops-worker-7");
        expect(worker).toMatchObject({ workerName: "operations page test", workflows: [{ workflowName, workflowVersionId }] });
        expect(worker!.leasedRunIds).toContain(run.id);
        expect(worker).not.toHaveProperty("leases"); // lease tokens never leave the server but to their worker
        expect(worker).toMatchObject({ transport: "poll", firstSeenTime: expect.stringMatching(/^\d{4}-/) });
      },
    };
  },
};

function fill(text: string, vars: Record<string, string>, url: string): string {
  let filled = text.replaceAll(documentedUrl, url);
  for (const [k, v] of Object.entries(vars)) filled = filled.replaceAll(k, v);
  const left = /<[a-z][a-z-]*>/.exec(filled);
  if (left) throw new Error(`placeholder ${left[0]} has no value in: ${filled}`);
  return filled;
}

const bash = (script: string): Promise<CliResult> => runCommand("bash", ["-euo", "pipefail", "-c", script], { env: { AIKI_URL: aiki.url }, timeoutMs: 60_000 });

/** The request body and the method (or "list") of a buf curl block or a grpcurl line. */
function requestOf(command: string, kind: "buf" | "grpcurl"): { body: unknown; method: string } {
  const body = /-d '([^']*)'/.exec(command)?.[1];
  const method =
    kind === "buf"
      ? command.includes("--list-methods")
        ? "list"
        : new RegExp(`${documentedUrl.replaceAll(".", "\\.")}/(\\S+)`).exec(command)?.[1]
      : new RegExp(`${documentedAuthority.replaceAll(".", "\\.")} (\\S+)$`).exec(command)?.[1];
  if (!method) throw new Error(`no method in: ${command}`);
  return { body: body === undefined ? undefined : JSON.parse(body), method };
}

describe("docs/operations.md", () => {
  it("has a recipe for every operator task, each with a test setup, and no code block outside a recipe", () => {
    expect(recipes.map((r) => r.name).sort()).toEqual(Object.keys(setups).sort());
    expect(page.split("\n").filter((l) => l === "```bash")).toHaveLength(recipes.length);
    for (const r of recipes) {
      expect(r.command, r.name).toMatch(/^npx buf curl --http2-prior-knowledge --protocol grpc /);
      expect(r.grpcurl, `${r.name} has a grpcurl line`).toBeDefined();
      if (r.cli) expect(r.cli, r.name).toMatch(/^npx aiki /);
    }
  });

  it("each grpcurl line sends the same body to the same method as its buf curl recipe", () => {
    for (const r of recipes) {
      expect(r.grpcurl!, r.name).toMatch(/^grpcurl -plaintext /);
      expect(requestOf(r.grpcurl!, "grpcurl"), r.name).toEqual(requestOf(r.command, "buf"));
    }
  });

  for (const recipe of recipes) {
    it(`recipe ${recipe.name}: ${recipe.cli ? "the buf curl command and the CLI line work" : "the buf curl command works"} on a live server`, async () => {
      const setup = await setups[recipe.name]!();
      const res = await bash(fill(recipe.command, setup.vars, aiki.url));
      expect(res.code, `${recipe.command}\n${res.stderr}`).toBe(0);
      setup.check(res.stdout);
      if (recipe.cli) {
        // The CLI as `npx aiki` resolves it in this repository (bin/aiki.js), on the server of AIKI_URL.
        const again = await setups[recipe.name]!();
        const line = fill(recipe.cli, again.vars, aiki.url).replace(/^npx aiki /, `'${process.execPath}' '${aikiBin}' `);
        const cli = await bash(line);
        expect(cli.code, `${recipe.cli}\n${cli.stderr}`).toBe(0);
        expect(cli.stdout).not.toBe("");
      }
    });
  }
});
