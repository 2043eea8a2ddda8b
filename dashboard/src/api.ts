// The clients the dashboard calls the server with: Connect over fetch on the page's own origin
// (the server serves this page, so no CORS), with the API key the user stored, if any.
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AdminService } from "@aiki/gen/aiki/v1/admin_service_pb";
import { BatchService } from "@aiki/gen/aiki/v1/batch_service_pb";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { ScheduleService } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";

const keyItem = "aiki.apiKey";

export function storedApiKey(): string {
  return localStorage.getItem(keyItem) ?? "";
}

export function storeApiKey(key: string): void {
  if (key) localStorage.setItem(keyItem, key);
  else localStorage.removeItem(keyItem);
}

const unauthenticatedListeners = new Set<(message: string) => void>();

/** Called with the server's message whenever a call answers UNAUTHENTICATED. */
export function onUnauthenticated(listener: (message: string) => void): () => void {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}

const auth: Interceptor = (next) => async (req) => {
  const key = storedApiKey();
  if (key) req.header.set("authorization", `Bearer ${key}`);
  try {
    return await next(req);
  } catch (error) {
    const e = ConnectError.from(error);
    if (e.code === Code.Unauthenticated) for (const l of unauthenticatedListeners) l(e.rawMessage);
    throw error;
  }
};

const transport = createConnectTransport({ baseUrl: location.origin, interceptors: [auth], useBinaryFormat: true });

export const runsApi = createClient(RunService, transport);
export const eventsApi = createClient(EventService, transport);
export const schedulesApi = createClient(ScheduleService, transport);
export const workersApi = createClient(WorkerLeaseService, transport);
export const adminApi = createClient(AdminService, transport);
export const batchApi = createClient(BatchService, transport);

/** The gRPC code name as the server's contracts spell it, e.g. FAILED_PRECONDITION. */
export function codeName(code: Code): string {
  return (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** "FAILED_PRECONDITION: cannot awake run …: it is running", as a person reads a refusal. */
export function errorText(error: unknown): string {
  const e = ConnectError.from(error);
  return `${codeName(e.code)}: ${e.rawMessage}`;
}

export function isCode(error: unknown, code: Code): boolean {
  return ConnectError.from(error).code === code;
}
