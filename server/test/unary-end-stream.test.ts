// A unary answer ends its HTTP/2 stream in the DATA frame that carries it (end-unary-answers-
// with-data.ts): a client has its answer with that frame, not one socket write later. Observed
// on the wire: the SDK's transport (Connect, binary, HTTP/2) talks to a real server through a
// TCP relay that parses the frames the server sends.
import net from "node:net";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { beforeAll, describe, expect, it } from "vitest";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

interface Frame {
  type: number;
  flags: number;
  streamId: number;
  length: number;
}
const DATA = 0x0;
const HEADERS = 0x1;
const END_STREAM = 0x1;

/** Relays one port to the server and parses every HTTP/2 frame the server sends back. */
async function frameRelay(port: number): Promise<{ url: string; frames: Frame[]; close(): Promise<void> }> {
  const frames: Frame[] = [];
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    let buffered = Buffer.alloc(0);
    upstream.on("data", (chunk: Buffer) => {
      client.write(chunk);
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        frames.push({ length, type: buffered[3]!, flags: buffered[4]!, streamId: buffered.readUInt32BE(5) & 0x7fffffff });
        buffered = buffered.subarray(9 + length);
      }
    });
    for (const s of [client, upstream]) s.on("error", () => {});
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`,
    frames,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    },
  };
}

/** The frames of each stream the server answered on (stream 0, the connection's own, left out). */
function byStream(frames: readonly Frame[]): Map<number, Frame[]> {
  const streams = new Map<number, Frame[]>();
  for (const f of frames) if (f.streamId !== 0 && (f.type === DATA || f.type === HEADERS)) streams.set(f.streamId, [...(streams.get(f.streamId) ?? []), f]);
  return streams;
}

describe("unary answers over HTTP/2", () => {
  let aiki: TestAiki;
  const h = useTestAiki({ timers: false });
  beforeAll(async () => {
    aiki = h.aiki;
  });

  it("end the stream in the DATA frame carrying the answer (Connect, as the SDK calls)", async () => {
    const relay = await frameRelay(aiki.port);
    try {
      const runs = createClient(RunService, createConnectTransport({ baseUrl: relay.url, httpVersion: "2", useBinaryFormat: true }));
      const { run } = await runs.startRun({ workflowName: "wf", workflowVersionId: "1" });
      await runs.getRun({ runId: run!.id });
      const streams = byStream(relay.frames);
      expect(streams.size).toBe(2);
      for (const frames of streams.values()) {
        // HEADERS (the status), then the answer in one DATA frame that also ends the stream.
        expect(frames.map((f) => [f.type, f.flags & END_STREAM, f.length > 0])).toEqual([
          [HEADERS, 0, true],
          [DATA, END_STREAM, true],
        ]);
      }
    } finally {
      await relay.close();
    }
  });

  it("gRPC: the answer's DATA frame comes with its trailers, which end the stream", async () => {
    const relay = await frameRelay(aiki.port);
    try {
      const runs = createClient(RunService, createGrpcTransport({ baseUrl: relay.url }));
      const { run } = await runs.startRun({ workflowName: "wf", workflowVersionId: "1" });
      expect(run?.id).toBeTruthy();
      const [frames] = [...byStream(relay.frames).values()];
      expect(frames!.map((f) => [f.type, f.flags & END_STREAM, f.length > 0])).toEqual([
        [HEADERS, 0, true],
        [DATA, 0, true],
        [HEADERS, END_STREAM, true],
      ]);
    } finally {
      await relay.close();
    }
  });
});
