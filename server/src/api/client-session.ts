import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import type { ClientSessionRequest, ClientSessionRequest_Call, ClientSessionResponseSchema, RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { AsyncQueue } from "@aiki/common/async-queue";
import { scopeAllows } from "../domain/api-key-format.js";
import { PermissionDeniedError } from "../domain/auth-errors.js";
import { InvalidArgumentError } from "../domain/errors.js";
import type { EngineDeps } from "../engine/engine-deps.js";
import { defaultLimits } from "../limits.js";
import { tracePoint } from "@aiki/common/trace-point";
import { conversationEnd } from "./conversation-end.js";
import { holdForCaller } from "./caller-quotas.js";
import { outboundOf } from "./call-outbound.js";
import { identityOf } from "./call-namespace.js";
import { toConnectError } from "./errors.js";
import { callError } from "./call-error.js";
import { methodScopes } from "./method-scopes.js";
import { traceClientSessionCall } from "./rpc-tracing.js";

type Response = MessageInitShape<typeof ClientSessionResponseSchema>;
type CallResponse = Response["response"];
// Bytes of answers a session's stream may buffer unsent before it stops reading calls.
const unreadBytes = 4 * 1024;

export interface ClientSessionImpls {
  runs: ServiceImpl<typeof RunService>;
  events: ServiceImpl<typeof EventService>;
}

/** What each kind of call is as a unary RPC: its service, its method, the scope it needs. */
const unaryOf = {
  startRun: { service: "aiki.v1.RunService", method: "StartRun" },
  waitForRunStatus: { service: "aiki.v1.RunService", method: "WaitForRunStatus" },
  sendEvent: { service: "aiki.v1.EventService", method: "SendEvent" },
} as const;

/**
 * RunService.ClientSession: a client's starts, waits and events, each answered by the unary
 * implementation of the same name (same validation, namespace, limits, errors and trace), with
 * the scope of that RPC checked per call, as soon as it is done: a held wait holds up nothing.
 *
 * The response stream ends once the client has closed its side and every call is answered, or
 * when the server shuts down (no call read after that; held waits end as on the unary RPC).
 * The stream's end (the client gone) cancels every call still running.
 */
export async function* clientSession(
  deps: EngineDeps,
  impls: ClientSessionImpls,
  requests: AsyncIterable<ClientSessionRequest>,
  ctx: HandlerContext,
): AsyncGenerator<Response> {
  const releaseStream = holdForCaller(ctx, "streams");
  try {
    yield* converse(deps, impls, requests[Symbol.asyncIterator](), ctx);
  } finally {
    releaseStream();
  }
}

async function* converse(
  deps: EngineDeps,
  impls: ClientSessionImpls,
  incoming: AsyncIterator<ClientSessionRequest>,
  ctx: HandlerContext,
): AsyncGenerator<Response> {
  const maxUnread = (deps.limits ?? defaultLimits).maxSessionUnread;
  const out = new AsyncQueue<Response>();
  const outbound = outboundOf(ctx);
  // Calls being answered, by id, each with its own cancel (the stream's end, or a Cancel message).
  const calls = new Map<number, AbortController>();
  const answering = new Set<Promise<void>>();
  // Calls that hold the session's attention: all but waits, which are bounded by the caller's
  // held-wait quota instead, so that waits held for minutes never stop a start from being read.
  let busy = 0;
  const cancelAll = () => {
    for (const call of calls.values()) call.abort(ctx.signal.reason);
  };
  ctx.signal.addEventListener("abort", cancelAll, { once: true });

  const roomForAnswers = async () => {
    while (out.size + busy >= maxUnread) {
      // Room comes when the client reads an answer, or a call in flight is answered.
      await Promise.race(out.size > 0 ? [out.shorterThan(out.size), ...answering] : [...answering]);
    }
    await outbound.drained(ctx.signal, unreadBytes);
  };
  let closing = false;
  const reader = (async () => {
    for (;;) {
      await roomForAnswers();
      const next = await incoming.next();
      if (next.done || closing) return;
      const kind = next.value.kind;
      switch (kind.case) {
        case "call": {
          const call = kind.value;
          const method = call.request.case;
          const id = call.callId;
          if (calls.has(id)) throw new InvalidArgumentError([{ field: "call.call_id", description: `${id} is still being answered` }]);
          const cancel = new AbortController();
          calls.set(id, cancel);
          const counted = method !== "waitForRunStatus";
          if (counted) busy++;
          tracePoint("client call", method && unaryOf[method].method);
          const answered = answer(deps, impls, call, { ...ctx, signal: cancel.signal }).then((response) => {
            calls.delete(id);
            if (counted) busy--;
            tracePoint("client answered", method && unaryOf[method].method);
            out.put({ callId: id, response });
          });
          answering.add(answered);
          void answered.finally(() => answering.delete(answered));
          break;
        }
        case "cancel":
          calls.get(kind.value.callId)?.abort(new ConnectError("the client cancelled the call", Code.Canceled));
          break;
        default:
          throw new InvalidArgumentError([{ field: "kind", description: "a client session takes call or cancel messages" }]);
      }
    }
  })();
  const end = conversationEnd(reader, deps.shutdownSignal);

  // Once the client has said all it will say, the conversation broke, or the server shuts down:
  // answer what was asked, then end the stream (or fail it with what broke it).
  void end.ended.then(async (broke) => {
    closing = true;
    // A broken conversation ends now: no held wait keeps its stream open.
    if (broke) cancelAll();
    await Promise.all([...answering]);
    if (broke && !ctx.signal.aborted) out.fail(broke);
    else out.close();
  });

  try {
    yield* out;
  } finally {
    ctx.signal.removeEventListener("abort", cancelAll);
    end.dispose();
    // The client stopped reading (gone, or the stream failed): nothing it asked is worth finishing.
    cancelAll();
  }
}

/** One call, answered as its unary RPC would answer: the response, or the error it would carry. */
async function answer(deps: EngineDeps, impls: ClientSessionImpls, call: ClientSessionRequest_Call, ctx: HandlerContext): Promise<CallResponse> {
  const started = performance.now();
  const request = call.request;
  if (request.case === undefined) {
    const refused = toConnectError(new InvalidArgumentError([{ field: "call.request", description: "must be one of the session's calls" }]), deps.logger);
    return { case: "error", value: callError(refused) };
  }
  const { service, method } = unaryOf[request.case];
  const field = request.case === "startRun" ? request.value.traceContext : undefined;
  try {
    const response = await traceClientSessionCall(ctx, service, method, field, call.traceContext, async (callCtx) => {
      try {
        const needed = methodScopes[`${service}/${method}`]!;
        if (!scopeAllows(identityOf(callCtx).scopes, needed)) throw new PermissionDeniedError(needed === "any" ? undefined : needed, `${service}/${method}`);
        return await dispatch(impls, request, callCtx);
      } catch (error) {
        throw toConnectError(error, deps.logger);
      }
    });
    deps.metrics?.rpcFinished("aiki.v1.RunService", `ClientSession.${method}`, "OK", (performance.now() - started) / 1000);
    return response;
  } catch (error) {
    const refused = toConnectError(error, deps.logger);
    deps.metrics?.rpcFinished("aiki.v1.RunService", `ClientSession.${method}`, Code[refused.code], (performance.now() - started) / 1000);
    return { case: "error", value: callError(refused) };
  }
}

async function dispatch(
  impls: ClientSessionImpls,
  request: Exclude<ClientSessionRequest_Call["request"], { case: undefined }>,
  ctx: HandlerContext,
): Promise<CallResponse> {
  switch (request.case) {
    case "startRun":
      return { case: request.case, value: await impls.runs.startRun(request.value, ctx) };
    case "waitForRunStatus":
      return { case: request.case, value: await impls.runs.waitForRunStatus(request.value, ctx) };
    case "sendEvent":
      return { case: request.case, value: await impls.events.sendEvent(request.value, ctx) };
  }
}
