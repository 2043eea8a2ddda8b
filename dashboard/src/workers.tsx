// The workers seen in the last five minutes: what they serve, how they get work, what they hold.
import type { ListWorkersResponse } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { workersApi } from "./api.js";
import { shortId } from "./format.js";
import { Link } from "./router.js";
import { Empty, ErrorBox, Time, useLoad } from "./ui.js";
import { useEffect } from "react";

export function Workers() {
  const workers = useLoad<ListWorkersResponse>(() => workersApi.listWorkers({}), []);
  useEffect(() => {
    const t = setInterval(() => void workers.reload(), 5_000);
    return () => clearInterval(t);
  }, []);
  const list = workers.data?.workers ?? [];
  return (
    <section aria-labelledby="workers-title">
      <div className="page-head">
        <h1 id="workers-title">Workers</h1>
        <span className="muted">seen in the last five minutes · refreshed every 5 s</span>
      </div>
      {workers.error ? <ErrorBox error={workers.error} /> : null}
      {workers.data && list.length === 0 ? (
        <Empty title="No worker has connected in the last five minutes.">
          <p>
            Start one with the SDK: <code>worker(&#123; workflows &#125;).spawn(client)</code>. It appears here as soon as it polls.
          </p>
        </Empty>
      ) : null}
      {list.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Transport</th>
                <th scope="col">Workflows</th>
                <th scope="col">Shards</th>
                <th scope="col">Leases held</th>
                <th scope="col">First seen</th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {list.map((w) => (
                <tr key={w.workerId}>
                  <td>
                    <strong>{w.workerName}</strong>
                    <div className="mono muted">{w.workerId}</div>
                  </td>
                  <td>{w.transport || <span className="muted">idle</span>}</td>
                  <td>
                    {w.workflows.map((v) => (
                      <div key={`${v.workflowName}/${v.workflowVersionId}`}>
                        {v.workflowName} <span className="mono muted">{v.workflowVersionId}</span>
                      </div>
                    ))}
                  </td>
                  <td>{w.shards.length ? w.shards.join(", ") : <span className="muted">unsharded</span>}</td>
                  <td>
                    {w.leasedRunIds.length === 0 ? <span className="muted">none</span> : null}
                    {w.leasedRunIds.map((id) => (
                      <div key={id}>
                        <Link to={`/runs/${id}`} className="mono">
                          {shortId(id)}
                        </Link>
                      </div>
                    ))}
                  </td>
                  <td>
                    <Time t={w.firstSeenTime} />
                  </td>
                  <td>
                    <Time t={w.lastSeenTime} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
