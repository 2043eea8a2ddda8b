// A minimal L4 load balancer for tests: each new connection goes to the next live backend, so a
// client whose server died reconnects to another replica, as behind any gRPC load balancer.
import net from "node:net";

export interface TcpProxy {
  url: string;
  /** Drops every connection through the proxy (a network break); new ones are still taken. */
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(backends: ReadonlyArray<{ host: string; port: number }>): Promise<TcpProxy> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once("close", () => sockets.delete(client));
    const tryBackend = (left: number) => {
      const backend = backends[next++ % backends.length]!;
      const upstream = net.connect(backend.port, backend.host);
      sockets.add(upstream);
      upstream.once("close", () => sockets.delete(upstream));
      let connected = false;
      upstream.once("error", () => {
        // Refused: that replica is down; try the next one, as a health-checking balancer would.
        if (!connected && left > 1) tryBackend(left - 1);
        else client.destroy();
      });
      upstream.once("connect", () => {
        connected = true;
        client.pipe(upstream).pipe(client);
        client.once("error", () => upstream.destroy());
        upstream.once("close", () => client.destroy());
        client.once("close", () => upstream.destroy());
      });
    };
    client.pause();
    tryBackend(backends.length);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
