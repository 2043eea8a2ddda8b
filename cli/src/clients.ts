import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";

export interface Clients {
  runs: Client<typeof RunService>;
  events: Client<typeof EventService>;
  workers: Client<typeof WorkerLeaseService>;
}

/** gRPC over HTTP/2 (prior knowledge for http://, TLS with ALPN for https://), the generated clients. */
export function createClients(url: string): Clients {
  const transport = createGrpcTransport({ baseUrl: url });
  return {
    runs: createClient(RunService, transport),
    events: createClient(EventService, transport),
    workers: createClient(WorkerLeaseService, transport),
  };
}
