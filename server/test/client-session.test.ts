// RunService.ClientSession through the raw contract (what a client in any language sees): calls
// answered by call_id like their unary RPCs, a malformed call refused alone, a malformed
// conversation ending the stream, the stream's end once the client closes its side, and a client
// gone ending its held waits.
import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { AsyncQueue } from "@aiki/common/async-queue";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { type ClientSessionRequestSchema, type ClientSessionResponse, RunService, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki();
let aiki: TestAiki;
let runs: Client<typeof RunService>;

beforeAll(() => {
  aiki = h.aiki;
  runs = aiki.client(RunService);
});

/** One session: what was sent, what came back, and how it ended. */
function openSession(signal?: AbortSignal) {
  const outgoing = new AsyncQueue<MessageInitShape<typeof ClientSessionRequestSchema>>();
  const received: ClientSessionResponse[] = [];
  const waiters = new Set<() => void>();
  const ended = (async () => {
    try {
      for await (const r of runs.clientSession(outgoing, { signal })) {
        received.push(r);
        for (const w of [...waiters]) w();
      }
      return undefined;
    } catch (error) {
      return ConnectError.from(error);
    } finally {
      for (const w of [...waiters]) w();
    }
  })();
  let finished = false;
  void ended.then(() => {
    finished = true;
  });
  return {
    outgoing,
    ended,
    async answer(callId: number): Promise<ClientSessionResponse["response"]> {
      for (;;) {
        const found = received.find((r) => r.callId === callId);
        if (found) return found.response;
        if (finished) throw new Error(`the session ended before call ${callId} was answered`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
        });
      }
    },
  };
}

const workflowName = () => h.uniqueName("raw-session");

describe("RunService.ClientSession", () => {
  it("answers each call by its id like the unary RPC; a malformed call is refused alone", async () => {
    const s = openSession();
    const name = workflowName();
    s.outgoing.put({ kind: { case: "call", value: { callId: 7, request: { case: "startRun", value: { workflowName: name, workflowVersionId: "1" } } } } });
    const started = await s.answer(7);
    expect(started.case).toBe("startRun");
    const run = started.case === "startRun" ? started.value.run! : undefined;
    expect(run).toMatchObject({ workflowName: name, status: RunStatus.QUEUED });
    s.outgoing.put({ kind: { case: "call", value: { callId: 8, request: { case: undefined } } } });
    const refused = await s.answer(8);
    expect(refused.case === "error" && refused.value.code).toBe(Code.InvalidArgument);
    s.outgoing.put({ kind: { case: "call", value: { callId: 9, request: { case: "waitForRunStatus", value: { runId: randomUUID() } } } } });
    const missing = await s.answer(9);
    expect(missing.case === "error" && missing.value.code).toBe(Code.NotFound);
    expect(missing.case === "error" && missing.value.details[0]?.typeUrl).toBe("type.googleapis.com/aiki.v1.RunNotFoundDetail");
    s.outgoing.put({
      kind: { case: "call", value: { callId: 10, request: { case: "waitForRunStatus", value: { runId: run!.id, status: RunStatus.QUEUED } } } },
    });
    const reached = await s.answer(10);
    expect(reached.case === "waitForRunStatus" && reached.value.outcome).toBe(WaitForRunStatusResponse_Outcome.REACHED);
    // Closing its side ends the stream with OK once every call is answered.
    s.outgoing.close();
    expect(await s.ended).toBeUndefined();
  });

  it("ends the stream with INVALID_ARGUMENT when a call id is reused while in flight", async () => {
    const s = openSession();
    const held = (await runs.startRun({ workflowName: workflowName(), workflowVersionId: "1" })).run!;
    const wait = { case: "waitForRunStatus" as const, value: { runId: held.id, status: RunStatus.COMPLETED, timeout: durationFromMs(60_000) } };
    s.outgoing.put({ kind: { case: "call", value: { callId: 1, request: wait } } });
    s.outgoing.put({ kind: { case: "call", value: { callId: 1, request: wait } } });
    const ended = await s.ended;
    expect(ended?.code).toBe(Code.InvalidArgument);
  });

  it("a client gone ends its held waits", async () => {
    const gone = new AbortController();
    const s = openSession(gone.signal);
    const held = (await runs.startRun({ workflowName: workflowName(), workflowVersionId: "1" })).run!;
    s.outgoing.put({
      kind: {
        case: "call",
        value: { callId: 1, request: { case: "waitForRunStatus", value: { runId: held.id, status: RunStatus.COMPLETED, timeout: durationFromMs(60_000) } } },
      },
    });
    const holding = () => [...aiki.subscriptions().keys()].some((k) => k.includes(held.id));
    await h.until(holding, { what: "the held wait" });
    gone.abort();
    expect((await s.ended)?.code).toBe(Code.Canceled);
    await h.until(() => !holding(), { what: "the end of the held wait" });
  });
});
