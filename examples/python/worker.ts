// Runs the workflow of the Python round trip on a server, for trying it by hand:
//   npm start                                   # the server on 127.0.0.1:9850
//   npx tsx examples/python/worker.ts           # this worker (AIKI_URL to point elsewhere)
//   /usr/bin/python3 examples/python/round_trip.py
import { client } from "@aiki/sdk";
import { worker } from "@aiki/worker";
import { pythonApprovalV1 } from "./approval-workflow.js";

// AIKI_API_KEY: a worker key, for a server with AIKI_AUTH=on.
const aiki = client({ url: process.env.AIKI_URL ?? "http://127.0.0.1:9850", apiKey: process.env.AIKI_API_KEY });
const handle = await worker({ name: "python-round-trip-worker", workflows: [pythonApprovalV1] }).spawn(aiki);
console.log(`worker ${handle.id} running python-approval 1.0.0; Ctrl-C stops it`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void handle.stop().then(() => aiki.close());
  });
}
