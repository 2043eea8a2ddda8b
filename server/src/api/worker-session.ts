import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import type {
  SessionRequest,
  SessionRequest_Call,
  SessionRequest_Open,
  SessionResponse_ResultSchema,
  SessionResponseSchema,
  WorkerLeaseService,
} from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { AsyncQueue } from "@aiki/common/async-queue";
import { InvalidArgumentError } from "../domain/errors.js";
import { defaultPipelineHoldMs, type EngineDeps } from "../engine/engine-deps.js";
import { type SessionCredits, sessionLeases, type WorkerIdentity } from "../engine/lease-runs.js";
import { type Limits, limitVariables } from "../limits.js";
import { holdForCaller } from "./caller-quotas.js";
import { outboundOf } from "./call-outbound.js";
import { toConnectError } from "./errors.js";
import { callError } from "./call-error.js";
import { traceSessionCall } from "./rpc-tracing.js";
import { Violations } from "./validation.js";
import { tracePoint } from "@aiki/common/trace-point";
import { conversationEnd } from "./conversation-end.js";
import { leaseToPb } from "./worker-lease-service-handler.js";
import { PipelinedAttempts, pipelinedAttemptsKey } from "./pipelined-attempts.js";

type Response = MessageInitShape<typeof SessionResponseSchema>;
// Bytes of answers a session's stream may buffer unsent before it stops reading calls.
const unreadBytes = 4 * 1024;
type CallResponse = MessageInitShape<typeof SessionResponse_ResultSchema>["response"];
const leaseRetryMs = 1_000;

export interface SessionImpls {
  tasks: ServiceImpl<typeof TaskService>;
  leases: ServiceImpl<typeof WorkerLeaseService>;
}

/**
 * WorkerLeaseService.Session: leases pushed within the worker's credits, and its writes answered
 * by the unary implementations (same validation, same engine calls, same errors), so a call on a
 * session means exactly what the RPC of the same name means.
 *
 * The response stream ends once the worker has closed its side and every call is answered, or
 * when the server shuts down (leasing stops at once; calls in flight are still answered).
 */
export async function* workerSession(
  deps: EngineDeps,
  impls: SessionImpls,
  requests: AsyncIterable<SessionRequest>,
  ctx: HandlerContext,
  parseOpen: (v: Violations, open: SessionRequest_Open) => { worker: WorkerIdentity; ttlMs: number },
): AsyncGenerator<Response> {
  const incoming = requests[Symbol.asyncIterator]();
  const first = await incoming.next();
  if (first.done) return;
  if (first.value.kind.case !== "open") throw new InvalidArgumentError([{ field: "kind", description: "the first message of a session must be open" }]);
  const open = first.value.kind.value;
  const v = new Violations(deps.limits);
  const { worker, ttlMs } = parseOpen(v, open);
  const maxCredits = v.limits.maxSessionCredits;
  if (open.credits < 0) v.add("open.credits", "must not be negative");
  else if (open.credits > maxCredits) v.overLimit("open.credits", "maxSessionCredits", open.credits, "credits");
  v.throwIfAny();
  const releaseStream = holdForCaller(ctx, "streams");
  try {
    yield* converse(deps, impls, incoming, ctx, worker, ttlMs, open.credits, v.limits);
  } finally {
    releaseStream();
  }
}

/**
 * The session after its open: at most `maxSessionUnread` answers and leases wait for the worker
 * to read them. Past that no further call is read (the worker's requests wait in its own
 * flow-control window), and nothing is leased while anything pushed still waits to leave.
 */
async function* converse(
  deps: EngineDeps,
  impls: SessionImpls,
  incoming: AsyncIterator<SessionRequest>,
  ctx: HandlerContext,
  worker: WorkerIdentity,
  ttlMs: number,
  openCredits: number,
  limits: Limits,
): AsyncGenerator<Response> {
  const maxCredits = limits.maxSessionCredits;
  const out = new AsyncQueue<Response>();
  const outbound = outboundOf(ctx);
  const caughtUp = () => out.size === 0 && outbound.pending() === 0;
  const leasing = new AbortController();
  const stopLeasing = () => leasing.abort();
  ctx.signal.addEventListener("abort", stopLeasing, { once: true });
  const credits = new Credits(openCredits, maxCredits);

  // While its leaser waits idle, a start on this server may hand its run straight to this session.
  let idle = false;
  const unlist = deps.localSessions?.add({
    worker,
    ttlMs,
    idle: () => idle && !leasing.signal.aborted && credits.available() > 0 && caughtUp(),
    takeCredit: () => credits.takeOne(),
    returnCredit: () => credits.refund(1),
    deliver: (leased) => {
      if (leasing.signal.aborted) return false;
      tracePoint("lease pushed", "handed over");
      out.put({ kind: { case: "leases", value: { leases: [leaseToPb(leased)] } } });
      return true;
    },
  });
  leasing.signal.addEventListener("abort", () => unlist?.(), { once: true });

  // Never rejects: a failed claim (the store restarting) is retried after a pause, and the
  // session, whose calls fail on their own meanwhile, stays open.
  const leaser = (async () => {
    const onIdle = (now: boolean) => {
      idle = now;
    };
    while (!leasing.signal.aborted) {
      try {
        const writable = async (signal: AbortSignal) => {
          await out.shorterThan(1);
          await outbound.drained(signal);
        };
        for await (const leased of sessionLeases(deps, worker, { ttlMs, credits, onIdle, writable }, leasing.signal)) {
          credits.take(leased.length);
          tracePoint("lease pushed", "claimed");
          out.put({ kind: { case: "leases", value: { leases: leased.map(leaseToPb) } } });
        }
        return;
      } catch (error) {
        if (leasing.signal.aborted) return;
        deps.logger.warn({ err: error }, "leasing for a worker session failed; trying again");
        await pause(leaseRetryMs, leasing.signal);
      }
    }
  })();

  const calls = new Set<Promise<void>>();
  // A call whose completions name a StartTask of this session by attempt id waits for its answer.
  const attempts = new PipelinedAttempts(deps.pipelineHoldMs ?? defaultPipelineHoldMs);
  ctx.values.set(pipelinedAttemptsKey, attempts);
  const roomForAnswers = async () => {
    while (out.size + calls.size >= limits.maxSessionUnread) {
      // Room comes when the worker reads an answer, or a call in flight is answered.
      await Promise.race(out.size > 0 ? [out.shorterThan(out.size), ...calls] : [...calls]);
    }
    await outbound.drained(ctx.signal, unreadBytes);
  };
  // Set when the server shuts down: calls that arrive after it are not started (the worker sees
  // the stream end without their answers and sends them again, to another server).
  let closing = false;
  const reader = (async () => {
    for (;;) {
      // Answers the worker has not read yet (queued here, being answered, or in the stream's
      // buffer) are all this session holds for it: past the bound, stop reading its calls.
      await roomForAnswers();
      const next = await incoming.next();
      if (next.done || closing) return;
      const kind = next.value.kind;
      switch (kind.case) {
        case "grant":
          if (kind.value.credits < 1 || kind.value.credits > maxCredits) {
            throw new InvalidArgumentError(
              [{ field: "grant.credits", description: `must be between 1 and ${maxCredits} (${limitVariables.maxSessionCredits})` }],
              [{ limit: limitVariables.maxSessionCredits, max: maxCredits, actual: kind.value.credits, subject: "grant.credits" }],
            );
          }
          credits.grant(kind.value.credits);
          break;
        case "drain":
          leasing.abort();
          break;
        case "call": {
          tracePoint("session call", kind.value.request.case);
          const request = kind.value.request;
          attempts.arrived(request);
          const answered = answer(deps, impls, kind.value, ctx);
          if (request.case === "startTask" && request.value.attemptId !== "") {
            attempts.started(
              request.value.attemptId,
              answered.then((r) => {
                const task = r.response?.case === "startTask" ? r.response.value.task : undefined;
                return task?.id && task.attempts ? { id: task.id, attempts: task.attempts } : undefined;
              }),
            );
          }
          const call = answered.then((result) => {
            attempts.answered(request);
            tracePoint("session answered", kind.value.request.case);
            out.put({ kind: { case: "result", value: result } });
          });
          calls.add(call);
          void call.finally(() => calls.delete(call));
          break;
        }
        default:
          throw new InvalidArgumentError([{ field: "kind", description: "after open, a session takes grant, drain or call messages" }]);
      }
    }
  })();
  const end = conversationEnd(reader, deps.shutdownSignal);

  // Once the worker has said all it will say, the conversation broke, or the server shuts down:
  // stop leasing, answer what was asked, then end the stream (or fail it with what broke it).
  void end.ended.then(async (broke) => {
    closing = true;
    leasing.abort();
    await leaser;
    await Promise.all([...calls]);
    if (broke && !ctx.signal.aborted) out.fail(broke);
    else out.close();
  });

  try {
    yield* out;
  } finally {
    leasing.abort();
    ctx.signal.removeEventListener("abort", stopLeasing);
    end.dispose();
  }
}

class Credits implements SessionCredits {
  private readonly listeners = new Set<() => void>();

  constructor(
    private left: number,
    private readonly maxCredits: number,
  ) {}

  available(): number {
    return this.left;
  }

  take(n: number): void {
    this.left = Math.max(0, this.left - n);
  }

  takeOne(): boolean {
    if (this.left < 1) return false;
    this.left -= 1;
    return true;
  }

  /** Gives back credits taken for nothing; no listener is told (the leaser had nothing to do). */
  refund(n: number): void {
    this.left = Math.min(this.maxCredits, this.left + n);
  }

  grant(n: number): void {
    this.left = Math.min(this.maxCredits, this.left + n);
    for (const listener of [...this.listeners]) listener();
  }

  onGrant(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}

/** One call, answered as its unary RPC would answer: the response, or the error it would carry. */
async function answer(
  deps: EngineDeps,
  impls: SessionImpls,
  call: SessionRequest_Call,
  ctx: HandlerContext,
): Promise<MessageInitShape<typeof SessionResponse_ResultSchema>> {
  const started = performance.now();
  const method = call.request.case;
  let response: CallResponse;
  try {
    response = await traceSessionCall(method ?? "unknown", call.traceContext, () => dispatch(impls, call.request, ctx));
    deps.metrics?.rpcFinished("aiki.v1.WorkerLeaseService", `Session.${method}`, "OK", (performance.now() - started) / 1000);
  } catch (error) {
    const refused = toConnectError(error, deps.logger);
    deps.metrics?.rpcFinished("aiki.v1.WorkerLeaseService", `Session.${method}`, Code[refused.code], (performance.now() - started) / 1000);
    response = { case: "error", value: callError(refused) };
  }
  return { callId: call.callId, response };
}

async function dispatch(impls: SessionImpls, request: SessionRequest_Call["request"], ctx: HandlerContext): Promise<CallResponse> {
  switch (request.case) {
    case "startTask":
      return { case: request.case, value: await impls.tasks.startTask(request.value, ctx) };
    case "completeTask":
      return { case: request.case, value: await impls.tasks.completeTask(request.value, ctx) };
    case "failTask":
      return { case: request.case, value: await impls.tasks.failTask(request.value, ctx) };
    case "suspendRun":
      return { case: request.case, value: await impls.leases.suspendRun(request.value, ctx) };
    case "completeRun":
      return { case: request.case, value: await impls.leases.completeRun(request.value, ctx) };
    case "failRun":
      return { case: request.case, value: await impls.leases.failRun(request.value, ctx) };
    case "startChildRun":
      return { case: request.case, value: await impls.leases.startChildRun(request.value, ctx) };
    case "heartbeat":
      return { case: request.case, value: await impls.leases.heartbeat(request.value, ctx) };
    case "releaseLease":
      return { case: request.case, value: await impls.leases.releaseLease(request.value, ctx) };
    case undefined:
      throw new InvalidArgumentError([{ field: "call.request", description: "must be one of the session's calls" }]);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
