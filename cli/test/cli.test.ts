// The `aiki` CLI end to end: bin/aiki.js in a child process against a real test server.
import { spawn } from "node:child_process";
import { fromJson, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { RunService, type StartRunRequestSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { taskAddress } from "../../server/src/engine/canonical-json.js";
import { aikiBin, type CliResult, runCli, runCommand } from "../../test/support/aiki-cli.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { createTestDatabase } from "../../test/support/database.js";
import { repoRoot } from "../../test/support/server-process.js";

const h = useTestAiki();
let aiki: TestAiki;
let runs: Client<typeof RunService>;
let leases: Client<typeof WorkerLeaseService>;
let events: Client<typeof EventService>;
let tasks: Client<typeof TaskService>;

beforeAll(() => {
  aiki = h.aiki;
  runs = aiki.client(RunService);
  leases = aiki.client(WorkerLeaseService);
  events = aiki.client(EventService);
  tasks = aiki.client(TaskService);
});

/** `aiki ...args` against the test server (AIKI_URL). */
const aikiCli = (...args: string[]): Promise<CliResult> => runCli(args, { env: { AIKI_URL: aiki.url } });

function workflow() {
  const name = h.uniqueName("cli-wf");
  return {
    name,
    start: (more: Partial<MessageInitShape<typeof StartRunRequestSchema>> = {}) =>
      runs.startRun({ workflowName: name, workflowVersionId: "1.0.0", ...more } as MessageInitShape<typeof StartRunRequestSchema>).then((r) => r.run!),
    lease: async (workerId = "cli-worker") => {
      const res = await leases.pollLeases({
        workerId,
        workerName: "cli test worker",
        workflows: [{ workflowName: name, workflowVersionId: "1.0.0" }],
        maxLeases: 1,
        wait: durationFromMs(5_000),
      });
      return res.leases[0]!;
    },
  };
}

const unknownId = "01a1fe68-0000-7000-8000-000000000000";

describe("aiki runs list", () => {
  it("prints the runs of a server as a table, newest first", async () => {
    const wf = workflow();
    const first = await wf.start({ referenceId: "order-1" });
    const second = await wf.start();
    const res = await aikiCli("runs", "list", "--workflow", wf.name);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^RUN ID\s+WORKFLOW\s+VERSION\s+STATUS\s+ATTEMPT\s+REFERENCE\s+CREATED\s+UPDATED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([second.id, first.id]);
    expect(lines[2]).toMatch(new RegExp(`^${first.id}\\s+${wf.name}\\s+1\\.0\\.0\\s+queued\\s+1\\s+order-1\\s`));
  });

  it("--json prints one JSON document: the ListRuns response", async () => {
    const wf = workflow();
    const a = await wf.start({ input: fromJson(ValueSchema, { orderId: "a" }) });
    const b = await wf.start();
    await runs.cancelRun({ runId: b.id });
    const res = await aikiCli("runs", "list", "--workflow", wf.name, "--status", "queued,running", "--json");
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout) as { runs: Array<{ id: string; status: string; input: unknown }>; nextPageToken?: string };
    expect(doc.runs.map((r) => r.id)).toEqual([a.id]);
    expect(doc.runs[0]).toMatchObject({ status: "RUN_STATUS_QUEUED", input: { orderId: "a" } });
  });

  it("--limit pages through the server and says when there are more", async () => {
    const wf = workflow();
    for (let i = 0; i < 3; i++) await wf.start();
    const res = await aikiCli("runs", "list", "--workflow", wf.name, "--limit", "2");
    expect(res.code).toBe(0);
    expect(res.stdout.trimEnd().split("\n")).toHaveLength(3);
    expect(res.stderr).toMatch(/more runs: raise --limit, or continue with --page-token \S+/);
    const token = /--page-token (\S+)\)/.exec(res.stderr)![1]!;
    const rest = await aikiCli("runs", "list", "--workflow", wf.name, "--page-token", token, "--json");
    expect((JSON.parse(rest.stdout) as { runs: unknown[] }).runs).toHaveLength(1);
  });

  it("says so when nothing matches", async () => {
    const res = await aikiCli("runs", "list", "--workflow", "no-such-workflow");
    expect(res).toMatchObject({ code: 0, stdout: "No runs.\n" });
  });
});

describe("wrong ids and bad command lines", () => {
  it("an unknown run id exits 1 naming it, for every command that takes one", async () => {
    const commands = [
      ["runs", "get", unknownId],
      ["runs", "history", unknownId],
      ["runs", "cancel", unknownId],
      ["runs", "rerun", unknownId, "--from-start"],
      ["runs", "tasks", unknownId],
      ["runs", "wait", unknownId],
      ["events", "send", unknownId, "approval"],
    ];
    const results = await Promise.all(commands.map((args) => aikiCli(...args)));
    for (const [i, res] of results.entries()) {
      expect(res, commands[i]!.join(" ")).toMatchObject({ code: 1, stdout: "", stderr: `aiki: run ${unknownId} not found\n` });
    }
  });

  it("a malformed id exits 1 naming it, with --json too (stdout stays empty)", async () => {
    const res = await aikiCli("runs", "get", "not-a-run", "--json");
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("");
    expect(res.stderr).toMatch(/^aiki: invalid run id "not-a-run": /);
  });

  it("usage errors exit 2 and point at the command's help", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["runs", "get"], /missing RUN_ID/],
      [["runs", "get", "a", "b"], /unexpected argument "b"/],
      [["runs", "lst"], /unknown command "runs lst"/],
      [["runs", "list", "--status", "sleepy"], /--status: unknown run status "sleepy"/],
      [["runs", "list", "--limit", "0"], /--limit must be a whole number/],
      [["runs", "list", "--colour"], /unknown option '--colour'/],
      [["runs", "wait", unknownId, "--timeout", "soon"], /--timeout must be a duration/],
      [["events", "send", unknownId, "e", "--data", "{nope"], /--data is not valid JSON/],
      [["runs", "list", "--url", "ftp://x"], /--url must be an http/],
    ];
    const results = await Promise.all(cases.map(([args]) => aikiCli(...args)));
    for (const [i, [args, message]] of cases.entries()) {
      const res = results[i]!;
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr, args.join(" ")).toMatch(message);
      expect(res.stderr).toMatch(/Run "aiki .*--help" for usage\./);
    }
  });

  it("an unreachable server exits 1 naming the URL", async () => {
    const res = await runCli(["runs", "list", "--url", "http://127.0.0.1:1"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^aiki: the Aiki server at http:\/\/127\.0\.0\.1:1 is unavailable: .*ECONNREFUSED/);
  });

  it("--help lists every command; a command's --help shows its options", async () => {
    const all = await runCli(["--help"]);
    expect(all.code).toBe(0);
    for (const c of [
      "server",
      "runs list",
      "runs get",
      "runs history",
      "runs cancel",
      "runs pause",
      "runs resume",
      "runs awake",
      "runs rerun",
      "runs tasks",
      "runs wait",
      "events send",
      "workers list",
    ]) {
      expect(all.stdout).toContain(`  ${c} `);
    }
    const list = await runCli(["runs", "list", "--help"]);
    expect(list.stdout).toMatch(/^Usage: aiki runs list \[options\]/);
    expect(list.stdout).toContain("--status S");
    expect((await runCli([])).code).toBe(2);
  });
});

describe("one run: get, history, control, events", () => {
  it("runs get shows the run; --json is the GetRun response", async () => {
    const wf = workflow();
    const run = await wf.start({ input: fromJson(ValueSchema, { orderId: "o-7" }), referenceId: "o-7" });
    const res = await aikiCli("runs", "get", run.id);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^Run\\s+${run.id}$`, "m"));
    expect(res.stdout).toMatch(new RegExp(`^Workflow\\s+${wf.name} 1\\.0\\.0$`, "m"));
    expect(res.stdout).toMatch(/^Status\s+queued$/m);
    expect(res.stdout).toMatch(/^Reference\s+o-7$/m);
    expect(res.stdout).toMatch(/^Input\s+\{"orderId":"o-7"\}$/m);
    const json = await aikiCli("runs", "get", run.id, "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ run: { id: run.id, status: "RUN_STATUS_QUEUED", referenceId: "o-7" } });
  });

  it("pause, resume, cancel with reasons; history shows each; a refused transition exits 1 saying why", async () => {
    const wf = workflow();
    const run = await wf.start();
    expect(await aikiCli("runs", "pause", run.id, "--reason", "ops check")).toMatchObject({
      code: 0,
      stdout: `run ${run.id} paused: now paused (revision 2)\n`,
    });
    const again = await aikiCli("runs", "pause", run.id);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`aiki: cannot pause run ${run.id}: it is paused\n`);
    expect((await aikiCli("runs", "resume", run.id)).code).toBe(0);
    const cancel = await aikiCli("runs", "cancel", run.id, "--reason", "customer left", "--json");
    expect(JSON.parse(cancel.stdout)).toMatchObject({ run: { status: "RUN_STATUS_CANCELLED", statusReason: "customer left" } });
    const history = await aikiCli("runs", "history", run.id);
    expect(history.code).toBe(0);
    const rows = history.stdout
      .trimEnd()
      .split("\n")
      .map((l) => l.split(/\s{2,}/));
    expect(rows[0]).toEqual(["REV", "FROM", "TO", "ACTOR", "REASON", "TIME"]);
    expect(rows.slice(1).map((r) => r.slice(0, 5))).toEqual([
      ["1", "-", "queued", "client", "started"],
      ["2", "queued", "paused", "client", "ops check"],
      ["3", "paused", "queued", "client", "resume"],
      ["4", "queued", "cancelled", "client", "customer left"],
    ]);
    const historyJson = JSON.parse((await aikiCli("runs", "history", run.id, "--json")).stdout) as { transitions: unknown[] };
    expect(historyJson.transitions).toHaveLength(4);
  });

  it("awake ends a sleep early", async () => {
    const wf = workflow();
    const run = await wf.start();
    const lease = await wf.lease();
    await leases.suspendRun({
      runId: run.id,
      leaseToken: lease.leaseToken,
      wait: { case: "sleep", value: { name: "nap", sequence: 0, duration: durationFromMs(3_600_000) } },
    });
    const res = await aikiCli("runs", "awake", run.id);
    expect(res).toMatchObject({ code: 0, stdout: `run ${run.id} awoken: now queued (revision 4)\n` });
  });

  it("events send stores the event with its data; a repeated reference id stores nothing new", async () => {
    const wf = workflow();
    const run = await wf.start();
    const sent = await aikiCli("events", "send", run.id, "approval", "--data", '{"approved":true}', "--reference-id", "ap-1");
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(new RegExp(`^event approval sent to run ${run.id} \\(event \\S+\\)\\n$`));
    const dup = await aikiCli("events", "send", run.id, "approval", "--data", '{"approved":true}', "--reference-id", "ap-1", "--json");
    expect(JSON.parse(dup.stdout)).toMatchObject({ deliveries: [{ duplicate: true, event: { runId: run.id, name: "approval", data: { approved: true } } }] });
    const stored = await events.listEvents({ runId: run.id });
    expect(stored.events).toHaveLength(1);
  });
});

describe("aiki runs rerun and runs tasks", () => {
  it("lists a cancelled run's steps, reruns it from one (copying what precedes it), shows the lineage; refuses an unfinished run and a missing --from", async () => {
    const wf = workflow();
    const source = await wf.start({ input: fromJson(ValueSchema, { orderId: "o-9" }) });
    const lease = await wf.lease();
    const step = async (name: string) => {
      const address = taskAddress(name, "x");
      const { task } = await tasks.startTask({
        runId: source.id,
        leaseToken: lease.leaseToken,
        name,
        address,
        sequence: 0,
        input: fromJson(ValueSchema, "x"),
        maxAttempts: 1,
      });
      return { address, task: task! };
    };
    const reserve = await step("reserve");
    await tasks.completeTask({ runId: source.id, leaseToken: lease.leaseToken, taskId: reserve.task.id, attempt: 1, output: fromJson(ValueSchema, "ok") });
    const ship = await step("ship");

    const unfinished = await aikiCli("runs", "rerun", source.id, "--from-start");
    expect(unfinished).toMatchObject({ code: 1, stderr: `aiki: cannot rerun run ${source.id}: it is running\n` });
    await runs.cancelRun({ runId: source.id, reason: "stuck" });

    const steps = await aikiCli("runs", "tasks", source.id);
    expect(steps.code).toBe(0);
    const rows = steps.stdout
      .trimEnd()
      .split("\n")
      .map((l) => l.split(/\s{2,}/));
    expect(rows[0]).toEqual(["STEP", "TASK", "STATUS", "ATTEMPTS", "CREATED"]);
    expect(rows.slice(1).map((r) => r.slice(0, 3))).toEqual([
      [`${reserve.address}#0`, "reserve", "completed"],
      [`${ship.address}#0`, "ship", "running"],
    ]);

    const rerun = await aikiCli("runs", "rerun", source.id, "--from-step", `${ship.address}#0`);
    expect(rerun.code, rerun.stderr).toBe(0);
    const [, newId] = /^started run (\S+) \(queued\), a rerun of \S+ from task (\S+), 1 record copied\n$/.exec(rerun.stdout) ?? [];
    expect(newId).toBeDefined();
    expect(rerun.stdout).toContain(`from task ${ship.address}#0,`);
    const got = await aikiCli("runs", "get", newId!);
    expect(got.stdout).toMatch(new RegExp(`^Rerun of\\s+${source.id}, from task ${ship.address}#0$`, "m"));
    expect(got.stdout).toMatch(/^Input\s+\{"orderId":"o-9"\}$/m);
    const listed = await aikiCli("runs", "list", "--rerun-of", source.id, "--json");
    expect((JSON.parse(listed.stdout) as { runs: Array<{ id: string; rerunOf: string }> }).runs.map((r) => [r.id, r.rerunOf])).toEqual([[newId, source.id]]);
    const copied = await aikiCli("runs", "tasks", newId!);
    expect(copied.stdout).toContain(`${reserve.address}#0`);
    expect(copied.stdout).not.toContain(ship.address);

    const fromStart = await aikiCli("runs", "rerun", source.id, "--from-start", "--input", '{"orderId":"o-10"}', "--json");
    expect(JSON.parse(fromStart.stdout)).toMatchObject({ run: { rerunOf: source.id, fromStep: { start: {} }, input: { orderId: "o-10" } } });

    const usage = await aikiCli("runs", "rerun", source.id);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/give exactly one of --from-start, --from-last-failure, --from-step/);
  });
});

describe("aiki runs wait", () => {
  it("returns 0 once the run completes, while a worker finishes it", async () => {
    const wf = workflow();
    const run = await wf.start();
    const waiting = aikiCli("runs", "wait", run.id, "--timeout", "20s");
    const lease = await wf.lease();
    await leases.completeRun({ runId: run.id, leaseToken: lease.leaseToken, output: fromJson(ValueSchema, "done") });
    const res = await waiting;
    expect(res).toMatchObject({ code: 0, stdout: `run ${run.id} is completed\n`, stderr: "" });
  });

  it("exits 1 when the run ends otherwise, 124 on timeout; --status and --json", async () => {
    const wf = workflow();
    const run = await wf.start();
    const timeout = await aikiCli("runs", "wait", run.id, "--timeout", "300ms");
    expect(timeout.code).toBe(124);
    expect(timeout.stdout).toMatch(/is still queued after 300ms/);
    const paused = aikiCli("runs", "wait", run.id, "--status", "paused", "--json", "--timeout", "20s");
    await runs.pauseRun({ runId: run.id });
    const reached = await paused;
    expect(reached.code).toBe(0);
    expect(JSON.parse(reached.stdout)).toMatchObject({ outcome: "OUTCOME_REACHED", run: { status: "RUN_STATUS_PAUSED" } });
    await runs.cancelRun({ runId: run.id });
    const ended = await aikiCli("runs", "wait", run.id);
    expect(ended).toMatchObject({ code: 1, stdout: `run ${run.id} ended cancelled, not completed\n` });
    expect((await aikiCli("runs", "wait", run.id, "--status", "terminal")).code).toBe(0);
  });

  it("shows a spinner with the status on a terminal, and nothing on a pipe", async () => {
    const wf = workflow();
    const run = await wf.start();
    // util-linux `script` gives the command a pseudo-terminal; its output is what the terminal showed.
    const command = [process.execPath, aikiBin, "runs", "wait", run.id, "--timeout", "1s"].map((a) => `'${a}'`).join(" ");
    const tty = await runCommand("script", ["-qec", command, "/dev/null"], { env: { AIKI_URL: aiki.url } });
    expect(tty.code).toBe(124);
    expect(tty.stdout).toContain(`\r\x1b[K⠋ waiting for run ${run.id} to reach completed`);
    expect(tty.stdout).toContain("(now queued)");
    expect(tty.stdout).toContain(`run ${run.id} is still queued after 1.0s`);
    const piped = await aikiCli("runs", "wait", run.id, "--timeout", "300ms");
    expect(piped.stderr).toBe("");
  });
});

describe("aiki workers list", () => {
  it("lists the workers and the runs they lease", async () => {
    const wf = workflow();
    const run = await wf.start();
    await wf.lease("worker-cli-1");
    const res = await aikiCli("workers", "list");
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^WORKER ID\s+NAME\s+WORKFLOWS\s+SHARDS\s+LAST SEEN\s+LEASES$/m);
    expect(res.stdout).toMatch(new RegExp(`^worker-cli-1\\s+cli test worker\\s+${wf.name}@1\\.0\\.0\\s+-\\s+(now|\\S+ ago)\\s+1$`, "m"));
    expect(res.stdout).toMatch(new RegExp(`^${run.id}\\s+worker-cli-1$`, "m"));
    const json = JSON.parse((await aikiCli("workers", "list", "--json")).stdout) as { workers: Array<{ workerId: string; leasedRunIds: string[] }> };
    expect(json.workers.find((w) => w.workerId === "worker-cli-1")?.leasedRunIds).toEqual([run.id]);
  });
});

describe("aiki server", () => {
  it("starts the server from the environment and --port; stops on SIGTERM", async () => {
    const database = await createTestDatabase();
    const child = spawn(process.execPath, [aikiBin, "server", "--port", "0"], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: database.url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let output = "";
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 20_000);
        const onData = (d: Buffer) => {
          output += d.toString();
          const m = /aiki server listening on (\S+?)"/.exec(output);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
      });
      await runCli(["runs", "start", "from-cli", "1", "--input", '{"n":1}', "--url", url]);
      const listed = await runCli(["runs", "list", "--json", "--url", url]);
      expect(JSON.parse(listed.stdout)).toMatchObject({ runs: [{ workflowName: "from-cli", input: { n: 1 } }] });
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await database.destroy();
    }
  });

  it("`npx aiki` runs the root package's bin", async () => {
    const res = await runCommand("npx", ["--no-update-notifier", "aiki", "runs", "list", "--workflow", "nothing-here"], {
      env: { AIKI_URL: aiki.url },
      timeoutMs: 60_000,
    });
    expect(res.stdout).toBe("No runs.\n");
    expect(res.code).toBe(0);
  }, 60_000);
});
