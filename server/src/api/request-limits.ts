import http2 from "node:http2";
import { Code, ConnectError, createContextValues, type HandlerContext } from "@connectrpc/connect";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { type Limits, limitVariables } from "../limits.js";
import { callerKey } from "./call-caller.js";
import { outboundKey, outboundOfRequest } from "./call-outbound.js";
import { CallerQuotas, callerQuotasKey } from "./caller-quotas.js";
import { limitDetail } from "./errors.js";

// Connect answers a request whose bytes do not decode as INTERNAL, as if the server were at fault.
const undecodable = /^(parse binary|received compressed envelope|protocol error)/;

/**
 * A request that does not decode (garbage bytes, a truncated or falsely compressed frame, a
 * message nested past the decoder's stack) is the client's fault: INVALID_ARGUMENT. Connect
 * aborts the call's signal with the error just before it writes the error out, in every protocol,
 * so the code is corrected there; nothing else in the error changes.
 */
function refuseUndecodable(reason: unknown): void {
  if (reason instanceof ConnectError && reason.code === Code.Internal && undecodable.test(reason.rawMessage)) {
    (reason as { code: Code }).code = Code.InvalidArgument;
  }
}

// Connect's own refusal of a message over readMaxBytes, e.g. a gRPC frame that declares 5 MiB.
const overReadMaxBytes = /^message size (?:(\d+) )?is larger than configured readMaxBytes/;

/** Connect's refusal of a message too large gets the LimitExceededDetail every other limit carries. */
function nameMessageLimit(reason: unknown, max: number): void {
  if (!(reason instanceof ConnectError) || reason.code !== Code.ResourceExhausted) return;
  const match = overReadMaxBytes.exec(reason.rawMessage);
  if (!match || reason.details.length > 0) return;
  reason.details.push(limitDetail({ limit: limitVariables.maxMessageBytes, max, actual: Number(match[1] ?? 0), subject: "request" }));
}

/**
 * The Connect adapter's side of the limits: messages bounded as read (a declared body too large is
 * refused before a byte of it is read), JSON that names an unknown field or enum value refused
 * instead of dropped, and each call given its caller, its outbound buffer and the server's quotas.
 */
export function requestLimits(limits: Limits): Pick<ConnectNodeAdapterOptions, "readMaxBytes" | "jsonOptions" | "contextValues" | "requestGate"> {
  const quotas = new CallerQuotas(limits);
  return {
    readMaxBytes: limits.maxMessageBytes,
    jsonOptions: { ignoreUnknownFields: false },
    contextValues: (req) => {
      const values = createContextValues();
      values.set(callerKey, req.socket?.remoteAddress ?? "unknown");
      values.set(outboundKey, outboundOfRequest(req));
      values.set(callerQuotasKey, quotas);
      return values;
    },
    requestGate: (ctx: HandlerContext) => {
      ctx.signal.addEventListener(
        "abort",
        () => {
          refuseUndecodable(ctx.signal.reason);
          nameMessageLimit(ctx.signal.reason, limits.maxMessageBytes);
        },
        { once: true },
      );
      const declared = Number(ctx.requestHeader.get(http2.constants.HTTP2_HEADER_CONTENT_LENGTH) ?? "0");
      if (declared > limits.maxMessageBytes) {
        throw new ConnectError(
          `request body of ${declared} bytes is larger than ${limits.maxMessageBytes} bytes (${limitVariables.maxMessageBytes})`,
          Code.ResourceExhausted,
          undefined,
          [limitDetail({ limit: limitVariables.maxMessageBytes, max: limits.maxMessageBytes, actual: declared, subject: "request" })],
        );
      }
    },
  };
}
