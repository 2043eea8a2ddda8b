import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AdminService } from "@aiki/gen/aiki/v1/admin_service_pb";
import { BatchService } from "@aiki/gen/aiki/v1/batch_service_pb";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";

export interface Clients {
  runs: Client<typeof RunService>;
  events: Client<typeof EventService>;
  workers: Client<typeof WorkerLeaseService>;
  admin: Client<typeof AdminService>;
  batches: Client<typeof BatchService>;
}

/**
 * gRPC over HTTP/2 (prior knowledge for http://, TLS with ALPN for https://), the generated
 * clients; with an API key, every call carries `authorization: Bearer <key>`.
 */
export function createClients(url: string, apiKey?: string): Clients {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${apiKey}`);
    return next(req);
  };
  const transport = createGrpcTransport({ baseUrl: url, interceptors: apiKey ? [bearer] : [] });
  return {
    runs: createClient(RunService, transport),
    events: createClient(EventService, transport),
    workers: createClient(WorkerLeaseService, transport),
    admin: createClient(AdminService, transport),
    batches: createClient(BatchService, transport),
  };
}
