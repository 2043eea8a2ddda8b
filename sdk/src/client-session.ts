import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, type CallOptions, type Client as ConnectClient, ConnectError } from "@connectrpc/connect";
import { LimitExceededDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import type { ClientSessionRequest_CallSchema, ClientSessionRequestSchema, ClientSessionResponse, RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { AsyncQueue } from "@aiki/common/async-queue";
import { callErrorToConnectError, translateRpcError } from "./rpc-error-translation.js";
import { type TracedCall, traceCall } from "./trace-propagation.js";

type Outgoing = MessageInitShape<typeof ClientSessionRequestSchema>;
type CallRequest = Exclude<NonNullable<MessageInitShape<typeof ClientSessionRequest_CallSchema>["request"]>, { case: undefined }>;
type Answer = NonNullable<ClientSessionResponse["response"]["value"]>;

/** What each kind of call is as a unary RPC, for its CLIENT span. */
const unaryOf = {
  startRun: ["aiki.v1.RunService", "StartRun"],
  waitForRunStatus: ["aiki.v1.RunService", "WaitForRunStatus"],
  sendEvent: ["aiki.v1.EventService", "SendEvent"],
} as const;

/**
 * How long a session with no call in flight stays open. An open stream keeps the connection (and
 * so the process) alive, where an idle unary connection does not: a session left idle this long
 * is closed, so a script that never calls close() still exits, a moment later. Calls that follow
 * each other (a start, then a wait for its result) share one stream.
 */
const idleCloseMs = 250;

interface Pending {
  /** The same call as a unary RPC, for a server without sessions. */
  unary: () => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * A client's starts, waits and events over RunService.ClientSession, one bidirectional stream,
 * instead of one HTTP/2 stream each: opened on the first call, closed when idle, opened again by
 * the next call after it ended or broke. Each call answers, or fails with the same typed error,
 * as its unary RPC would. A stream that breaks fails the calls in flight with its error (as a
 * broken connection fails unary calls): none is sent again, since a start without a request id
 * is not idempotent. A server without sessions (UNIMPLEMENTED) gets unary calls for the life of
 * the client; one refusing another stream to this caller (RESOURCE_EXHAUSTED) gets them for the
 * calls of that stream. Either way, it had read none of them.
 */
export class ClientSession {
  private unaryOnly = false;
  private current: OpenStream | undefined;

  constructor(
    private readonly rpc: ConnectClient<typeof RunService>,
    private readonly closeSignal: AbortSignal,
  ) {}

  /** `request` on the session, or `unary()` when the server has none. */
  call<T>(request: CallRequest, options: CallOptions | undefined, unary: () => Promise<T>): Promise<T> {
    if (this.unaryOnly || this.closeSignal.aborted) return unary();
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(translateRpcError(ConnectError.from(signal.reason, Code.Canceled)));
    this.current ??= this.open();
    return this.current.call(request, unary, signal, options?.timeoutMs) as Promise<T>;
  }

  private open(): OpenStream {
    const stream = new OpenStream(() => {
      if (this.current === stream) this.current = undefined;
    });
    void stream.run(this.rpc, this.closeSignal).then((fallBack) => {
      if (fallBack === "always") this.unaryOnly = true;
    });
    return stream;
  }
}

/** One session stream: its calls by id, and the callers waiting for their answers. */
class OpenStream {
  private readonly outgoing = new AsyncQueue<Outgoing>();
  private readonly waiting = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;
  private ended = false;

  /** `retire` is called once the stream takes no more calls (idle, ended or broken). */
  constructor(private readonly retire: () => void) {}

  call(request: CallRequest, unary: () => Promise<unknown>, signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<unknown> {
    clearTimeout(this.idleTimer);
    const callId = this.nextId;
    this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1;
    const [service, method] = unaryOf[request.case];
    const traced: TracedCall | undefined = traceCall(service, method);
    return new Promise<unknown>((resolve, reject) => {
      // Given up on (aborted, timed out): the server is told, which ends a held wait as the
      // unary RPC's cancellation would; the call may still be carried out, its answer is dropped.
      const giveUp = (error: ConnectError) => {
        if (!this.waiting.delete(callId)) return;
        cleanUp();
        traced?.end(error);
        this.outgoing.put({ kind: { case: "cancel", value: { callId } } });
        this.idleSoon();
        reject(translateRpcError(error));
      };
      const onAbort = () => giveUp(ConnectError.from(signal?.reason, Code.Canceled));
      const timer =
        timeoutMs === undefined ? undefined : setTimeout(() => giveUp(new ConnectError("the operation timed out", Code.DeadlineExceeded)), timeoutMs);
      const cleanUp = () => {
        signal?.removeEventListener("abort", onAbort);
        clearTimeout(timer);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.set(callId, {
        unary,
        resolve: (value) => {
          cleanUp();
          traced?.end();
          resolve(value);
        },
        reject: (error) => {
          cleanUp();
          traced?.end(error);
          reject(error instanceof ConnectError ? translateRpcError(error) : error);
        },
      });
      this.outgoing.put({ kind: { case: "call", value: { callId, request, traceContext: traced?.traceContext } } });
    });
  }

  /**
   * Reads answers until the stream ends. Resolves with whether the client should use unary calls
   * from now on ("always"); calls the server never read are then sent as unary calls.
   */
  async run(rpc: ConnectClient<typeof RunService>, closeSignal: AbortSignal): Promise<"always" | "no"> {
    const abort = new AbortController();
    const onClose = () => abort.abort(closeSignal.reason);
    closeSignal.addEventListener("abort", onClose, { once: true });
    let answered = false;
    try {
      for await (const response of rpc.clientSession(this.outgoing, { signal: abort.signal })) {
        answered = true;
        this.settle(response);
      }
      this.failAll(new ConnectError("the client session ended before the call was answered", Code.Unavailable));
      return "no";
    } catch (error) {
      const failure = ConnectError.from(closeSignal.aborted ? closeSignal.reason : error);
      // Refused before reading anything: the calls were never carried out, so unary ones are safe.
      if (!answered && failure.code === Code.Unimplemented) {
        this.sendUnary();
        return "always";
      }
      const otherStreams = failure.findDetails(LimitExceededDetailSchema).some((d) => d.subject === "open_streams");
      if (!answered && failure.code === Code.ResourceExhausted && otherStreams) {
        this.sendUnary();
        return "no";
      }
      this.failAll(failure);
      return "no";
    } finally {
      closeSignal.removeEventListener("abort", onClose);
      this.end();
      abort.abort();
    }
  }

  private settle(response: ClientSessionResponse): void {
    const waiter = this.waiting.get(response.callId);
    if (!waiter) return;
    this.waiting.delete(response.callId);
    const answer = response.response;
    if (answer.case === "error") waiter.reject(callErrorToConnectError(answer.value));
    else if (answer.case === undefined) waiter.reject(new ConnectError("the server answered a call without a response", Code.Internal));
    else waiter.resolve(answer.value satisfies Answer);
    this.idleSoon();
  }

  /** With nothing in flight, the stream is closed after a while (see idleCloseMs). */
  private idleSoon(): void {
    if (this.waiting.size > 0 || this.ended) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.waiting.size === 0) this.end();
    }, idleCloseMs);
  }

  /** Takes no more calls: the server answers those it has, then ends the stream. */
  private end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.idleTimer);
    this.retire();
    this.outgoing.close();
  }

  private failAll(error: ConnectError): void {
    this.end();
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) w.reject(error);
  }

  private sendUnary(): void {
    this.end();
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) w.unary().then(w.resolve, w.reject);
  }
}
