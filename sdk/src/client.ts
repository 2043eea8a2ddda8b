import { Code, type Client as ConnectClient, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AdminService } from "@aiki/gen/aiki/v1/admin_service_pb";
import { BatchService } from "@aiki/gen/aiki/v1/batch_service_pb";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { ScheduleService } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { ClientSession } from "./client-session.js";
import { createHttp2SessionManager } from "./http2-session-manager.js";
import { createConsoleLogger, type Logger } from "./logger.js";
import { defaultNamespace } from "./ready-channel.js";
import { translateRpcError } from "./rpc-error-translation.js";
import { tracePropagation } from "./trace-propagation.js";

/** Where the Redis that carries ready hints lives (used by workers with `subscriber: { type: "redis" }`). */
export interface RedisOptions {
  host?: string;
  port?: number;
  /** redis://… ; wins over host/port. */
  url?: string;
  password?: string;
  db?: number;
}

export interface ClientOptions {
  /** The Aiki server, e.g. "http://127.0.0.1:9850" (a bare "host:port" means http). */
  url: string;
  /** Sent as `authorization: Bearer <apiKey>` on every call; the key decides the namespace. */
  apiKey?: string;
  redis?: RedisOptions;
  /** Default: a console logger at AIKI_LOG_LEVEL or "info". */
  logger?: Logger;
}

/** A connection to an Aiki server. */
export interface Client {
  readonly url: string;
  readonly logger: Logger;
  readonly redis: RedisOptions | undefined;
  /** Cancels calls in flight (their callers see an error) and closes the connection. */
  close(): Promise<void>;
}

/** What the rest of the SDK and the worker reach through a client; not for users. */
export interface ClientInternals {
  readonly runs: ConnectClient<typeof RunService>;
  readonly events: ConnectClient<typeof EventService>;
  readonly tasks: ConnectClient<typeof TaskService>;
  readonly leases: ConnectClient<typeof WorkerLeaseService>;
  readonly schedules: ConnectClient<typeof ScheduleService>;
  readonly batches: ConnectClient<typeof BatchService>;
  /** The namespace the client's calls act in: its key's (asked once, WhoAmI), else "default". */
  namespace(): Promise<string>;
  /** Aborted by close(). */
  readonly closeSignal: AbortSignal;
}

const internals = new WeakMap<Client, ClientInternals>();

export function clientInternals(client: Client): ClientInternals {
  const found = internals.get(client);
  if (!found) throw new TypeError("expected a client created by client() from @aiki/sdk");
  return found;
}

// HTTP/2 keeps one connection; pings find a dead one during a long-poll instead of
// hanging until the poll's own deadline.
const pingIntervalMs = 30_000;
const pingTimeoutMs = 10_000;

/**
 * Connects to an Aiki server. Returns the client itself, not a promise, so both `client(...)`
 * and `await client(...)` work; the connection opens on the first call.
 */
export function client(options: ClientOptions): Client {
  if (!options || typeof options.url !== "string" || options.url === "") throw new TypeError("client(): `url` is required");
  const baseUrl = normalizeUrl(options.url);
  const logger = options.logger ?? createConsoleLogger();
  const closing = new AbortController();
  const sessionManager = createHttp2SessionManager(baseUrl, { pingIntervalMs, pingTimeoutMs });

  // Interceptors may only throw ConnectErrors (connect wraps anything else), so errors are
  // translated around the generated clients instead, in translateErrors().
  const interceptor: Interceptor = (next) => async (req) => {
    if (closing.signal.aborted) throw new ConnectError("the client is closed", Code.Canceled);
    if (options.apiKey) req.header.set("authorization", `Bearer ${options.apiKey}`);
    // Calls in flight at close() end when it aborts the connection; no per-call signal linking
    // (AbortSignal.any per call was a visible share of the client's CPU and GC).
    return next(req);
  };
  // The Connect protocol (binary) over one HTTP/2 connection: the server speaks it beside gRPC,
  // and in connect-node a unary call costs well under half the CPU of a gRPC one (no trailers, no
  // per-call error marking the end of the response; `npx tsx bench/rpc-overhead.ts`).
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: "2",
    useBinaryFormat: true,
    sessionManager,
    interceptors: [interceptor, tracePropagation()],
  });

  let closed: Promise<void> | undefined;
  const instance: Client = {
    url: baseUrl,
    logger,
    redis: options.redis,
    close() {
      closed ??= (async () => {
        const reason = new ConnectError("the client is closed", Code.Canceled);
        closing.abort(reason);
        sessionManager.abort(reason);
      })();
      return closed;
    },
  };
  const admin = translateErrors(createClient(AdminService, transport));
  let namespace: Promise<string> | undefined;
  const rawRuns = createClient(RunService, transport);
  const runs = translateErrors(rawRuns);
  const events = translateErrors(createClient(EventService, transport));
  // Starts, waits and events travel on one session stream (client-session.ts), not one HTTP/2
  // stream each; everything else stays unary.
  const session = new ClientSession(rawRuns, closing.signal);
  internals.set(instance, {
    runs: {
      ...runs,
      startRun: (request, options) => session.call({ case: "startRun", value: request }, options, () => runs.startRun(request, options)),
      waitForRunStatus: (request, options) =>
        session.call({ case: "waitForRunStatus", value: request }, options, () => runs.waitForRunStatus(request, options)),
    },
    events: {
      ...events,
      sendEvent: (request, options) => session.call({ case: "sendEvent", value: request }, options, () => events.sendEvent(request, options)),
    },
    tasks: translateErrors(createClient(TaskService, transport)),
    leases: translateErrors(createClient(WorkerLeaseService, transport)),
    schedules: translateErrors(createClient(ScheduleService, transport)),
    batches: translateErrors(createClient(BatchService, transport)),
    namespace() {
      if (!options.apiKey) return Promise.resolve(defaultNamespace);
      namespace ??= admin.whoAmI({}).then(
        (me) => me.namespace,
        (error: unknown) => {
          namespace = undefined;
          throw error;
        },
      );
      return namespace;
    },
    closeSignal: closing.signal,
  });
  return Object.freeze(instance);
}

/** Every method of a generated client, with its errors passed through translateRpcError. */
function translateErrors<T extends object>(rpc: T): T {
  return new Proxy(rpc, {
    get(target, property, receiver) {
      const method: unknown = Reflect.get(target, property, receiver);
      if (typeof method !== "function") return method;
      return (...args: unknown[]) => {
        const result: unknown = method.apply(target, args);
        if (result instanceof Promise) {
          return result.catch((error: unknown) => {
            throw translateRpcError(error);
          });
        }
        if (isAsyncIterable(result)) return translateStream(result);
        return result;
      };
    },
  });
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

async function* translateStream<T>(stream: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* stream;
  } catch (error) {
    throw translateRpcError(error);
  }
}

function normalizeUrl(url: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
  try {
    return new URL(withScheme).toString().replace(/\/$/, "");
  } catch (error) {
    throw new TypeError(`client(): invalid url ${JSON.stringify(url)}`, { cause: error });
  }
}
