import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { SessionRequest_CallSchema, SessionRequestSchema, SessionResponse_Result } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { AsyncQueue } from "@aiki/common/async-queue";
import { callErrorToConnectError, clientInternals, traceContextOf, translateRpcError } from "@aiki/sdk/internal";
import { context, trace } from "@opentelemetry/api";
import { type ConnectionEnd, ConnectionHealth, keepConnected } from "./keep-connected.js";
import { type LeaseSource, workerFields, type WorkerSlots } from "./lease-source.js";
import { StreamLeaseSource } from "./lease-stream.js";
import { tracePoint } from "@aiki/common/trace-point";
import type { WorkerRpc } from "./worker-rpc.js";

type Outgoing = MessageInitShape<typeof SessionRequestSchema>;
type CallRequest = NonNullable<MessageInitShape<typeof SessionRequest_CallSchema>["request"]>;
type CallKind = NonNullable<CallRequest["case"]>;

/**
 * Work and writes over WorkerLeaseService.Session, one bidirectional stream: the server pushes
 * leases within the credits the worker grants (one per free slot, granted again as slots free),
 * and the worker's fenced writes travel as calls on the same stream instead of one unary RPC
 * each. While no session is open (connecting, reconnecting, after stop) writes go as unary RPCs,
 * so a write never waits for a session. Calls unanswered when a session ends fail as UNAVAILABLE,
 * which the executions retry like any transient failure.
 *
 * A server without sessions (UNIMPLEMENTED) gets the lease stream instead; repeated failures
 * long-poll for a minute, then try again.
 */
export class SessionLeaseSource implements LeaseSource {
  private session: OpenSession | undefined;
  private closeCurrent: (() => Promise<void>) | undefined;
  readonly rpc: WorkerRpc;

  constructor(private readonly slots: WorkerSlots) {
    const unary = clientInternals(slots.client);
    const route =
      <K extends CallKind>(kind: K, method: (request: never, options?: { signal?: AbortSignal }) => Promise<unknown>) =>
      (request: unknown, options?: { signal?: AbortSignal; timeoutMs?: number }) => {
        const session = this.session;
        if (!session) return method(request as never, options);
        return session.call({ case: kind, value: request } as CallRequest, options?.signal, options?.timeoutMs);
      };
    this.rpc = {
      tasks: {
        startTask: route("startTask", unary.tasks.startTask),
        completeTask: route("completeTask", unary.tasks.completeTask),
        failTask: route("failTask", unary.tasks.failTask),
      },
      leases: {
        suspendRun: route("suspendRun", unary.leases.suspendRun),
        completeRun: route("completeRun", unary.leases.completeRun),
        failRun: route("failRun", unary.leases.failRun),
        startChildRun: route("startChildRun", unary.leases.startChildRun),
        heartbeat: route("heartbeat", unary.leases.heartbeat),
        releaseLease: route("releaseLease", unary.leases.releaseLease),
      },
      channel: () => this.session,
    } as WorkerRpc;
  }

  async run(signal: AbortSignal): Promise<void> {
    // When the worker stops taking work, run() returns but the session stays open (drained) for
    // the writes of executions still finishing, until close().
    const stopped = new Promise<ConnectionEnd>((resolve) => {
      if (signal.aborted) resolve({ kind: "stopped" });
      signal.addEventListener("abort", () => resolve({ kind: "stopped" }), { once: true });
    });
    await keepConnected(this.slots, signal, "worker session", () => Promise.race([this.openSession(signal), stopped]), {
      what: "lease stream",
      run: () => new StreamLeaseSource(this.slots).run(signal),
    });
  }

  /** Ends the session left open by run() for the writes of a stopping worker. */
  async close(): Promise<void> {
    await this.closeCurrent?.();
  }

  /**
   * One session, until it ends or fails. When `signal` aborts (the worker stops taking work) the
   * session is drained, not closed: executions still write on it until close().
   */
  private async openSession(signal: AbortSignal): Promise<ConnectionEnd> {
    const { slots } = this;
    // The worker's side of the stream: messages in the order put; a put after close is dropped
    // (a grant or call racing the end of the session).
    const outgoing = new AsyncQueue<Outgoing>();
    const call = new AbortController();
    const session = new OpenSession(outgoing);
    const health = new ConnectionHealth();

    let granted = Math.max(0, Math.min(1000, slots.free()));
    const grantFree = () => {
      const more = Math.min(1000, slots.free() - granted);
      if (more <= 0 || signal.aborted) return;
      granted += more;
      tracePoint("credit granted");
      outgoing.put({ kind: { case: "grant", value: { credits: more } } });
    };
    const stopGranting = slots.onSlotFreed(grantFree);
    const drain = () => {
      stopGranting();
      outgoing.put({ kind: { case: "drain", value: {} } });
    };
    signal.addEventListener("abort", drain, { once: true });
    outgoing.put({ kind: { case: "open", value: { ...workerFields(slots), credits: granted } } });

    let ended!: () => void;
    const done = new Promise<void>((resolve) => {
      ended = resolve;
    });
    this.closeCurrent = async () => {
      outgoing.close();
      // A server that keeps the stream open past our end is cut off.
      const timer = setTimeout(() => call.abort(), 5_000);
      await done;
      clearTimeout(timer);
    };
    try {
      const responses = clientInternals(slots.client).leases.session(outgoing, { signal: call.signal });
      this.session = session;
      for await (const response of responses) {
        health.sawDelivery();
        switch (response.kind.case) {
          case "leases":
            tracePoint("lease received");
            granted = Math.max(0, granted - response.kind.value.leases.length);
            for (const lease of response.kind.value.leases) slots.accept(lease);
            break;
          case "result":
            tracePoint("call answered");
            session.settle(response.kind.value);
            break;
        }
      }
      return signal.aborted ? { kind: "stopped" } : { kind: "ended", healthy: health.healthy };
    } catch (error) {
      return health.endedBy(error, slots, signal);
    } finally {
      if (this.session === session) this.session = undefined;
      session.failAll();
      stopGranting();
      signal.removeEventListener("abort", drain);
      outgoing.close();
      call.abort();
      ended();
    }
  }
}

/** The calls of one session: ids, and the callers waiting for their results. */
class OpenSession {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();

  constructor(private readonly outgoing: AsyncQueue<Outgoing>) {}

  call(request: CallRequest, signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const callId = this.nextId;
    this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1;
    return new Promise<unknown>((resolve, reject) => {
      // Given up on (aborted, timed out): the server may still carry it out; as with a unary
      // call, its answer is then dropped.
      const giveUp = (error: unknown) => {
        cleanUp();
        this.waiting.delete(callId);
        reject(error);
      };
      const onAbort = () => giveUp(signal?.reason);
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => giveUp(translateRpcError(new ConnectError(`no answer within ${timeoutMs} ms`, Code.DeadlineExceeded))), timeoutMs);
      const cleanUp = () => {
        signal?.removeEventListener("abort", onAbort);
        clearTimeout(timer);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.set(callId, {
        resolve: (value) => {
          cleanUp();
          resolve(value);
        },
        reject: (error) => {
          cleanUp();
          reject(error);
        },
      });
      tracePoint("call sent", request.case);
      // The caller's span (an execution's, a task's), as the traceparent header would carry it on the unary RPC.
      const traceContext = traceContextOf(trace.getSpanContext(context.active()));
      this.outgoing.put({ kind: { case: "call", value: { callId, request, traceContext } } });
    });
  }

  settle(result: SessionResponse_Result): void {
    const waiter = this.waiting.get(result.callId);
    if (!waiter) return;
    this.waiting.delete(result.callId);
    const response = result.response;
    if (response.case === "error") waiter.reject(translateRpcError(callErrorToConnectError(response.value)));
    else if (response.case === undefined) waiter.reject(translateRpcError(new ConnectError("the server answered a call without a response", Code.Internal)));
    else waiter.resolve(response.value);
  }

  /** The session ended: unanswered calls fail as transient, so they are sent again. */
  failAll(): void {
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) w.reject(translateRpcError(new ConnectError("the worker session ended before the call was answered", Code.Unavailable)));
  }
}
