// Batch operations (BatchService): the namespace's operations, newest first, and one operation's
// progress, selection and failures. The list refreshes while any operation runs.
import { useEffect } from "react";
import { BatchOperationStatus, type GetBatchOperationResponse, type ListBatchOperationsResponse } from "@aiki/gen/aiki/v1/batch_service_pb";
import type { RunFilter } from "@aiki/gen/aiki/v1/run_service_pb";
import { batchApi } from "./api.js";
import { BatchProgress, BatchStatusBadge, batchActionLabel } from "./bulk-actions.js";
import { shortId, statusKey } from "./format.js";
import { Link } from "./router.js";
import { Empty, ErrorBox, Time, useLoad } from "./ui.js";

export function Batches() {
  const list = useLoad<ListBatchOperationsResponse>(() => batchApi.listBatchOperations({ pageSize: 100 }), []);
  const ops = list.data?.operations ?? [];
  const anyRunning = ops.some((o) => o.status === BatchOperationStatus.RUNNING);
  useEffect(() => {
    if (!anyRunning) return;
    const t = setInterval(() => void list.reload(), 2_000);
    return () => clearInterval(t);
  }, [anyRunning]);
  return (
    <section aria-labelledby="batches-title">
      <div className="page-head">
        <h1 id="batches-title">Batch operations</h1>
        <span className="muted">the latest 100{anyRunning ? " · refreshed every 2 s while one runs" : ""}</span>
      </div>
      {list.error ? <ErrorBox error={list.error} /> : null}
      {list.data && ops.length === 0 ? (
        <Empty title="No batch operation yet.">
          <p>
            Select runs in <Link to="/runs">the runs list</Link> (or all that match a filter) and pick an action, or use <code>aiki runs pause --tag k=v</code>.
          </p>
        </Empty>
      ) : null}
      {ops.length > 0 ? (
        <div className="table-wrap">
          <table className="batches">
            <thead>
              <tr>
                <th scope="col">Operation</th>
                <th scope="col">Status</th>
                <th scope="col">Action</th>
                <th scope="col">Matching</th>
                <th scope="col">Done</th>
                <th scope="col">Skipped</th>
                <th scope="col">Failed</th>
                <th scope="col">Created</th>
                <th scope="col">By</th>
                <th scope="col">Description</th>
              </tr>
            </thead>
            <tbody>
              {ops.map((o) => (
                <tr key={o.id} data-operation-id={o.id}>
                  <td>
                    <Link to={`/batches/${o.id}`} className="mono" title={o.id}>
                      {shortId(o.id)}
                    </Link>
                  </td>
                  <td>
                    <BatchStatusBadge status={o.status} />
                  </td>
                  <td>{batchActionLabel(o)}</td>
                  <td>{o.matching.toString()}</td>
                  <td>{o.done.toString()}</td>
                  <td>{o.skipped.toString()}</td>
                  <td>{o.failed.toString()}</td>
                  <td>
                    <Time t={o.createTime} />
                  </td>
                  <td className="mono">{o.requestedBy}</td>
                  <td>{o.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

export function BatchDetail({ id }: { id: string }) {
  const got = useLoad<GetBatchOperationResponse>(() => batchApi.getBatchOperation({ operationId: id }), [id]);
  const op = got.data?.operation;
  if (got.error && !op) return <ErrorBox error={got.error} action={<Link to="/batches">Back to the batch operations</Link>} />;
  if (!op) return <p className="muted">Loading the operation…</p>;
  const sel = op.selection;
  return (
    <section aria-labelledby="batch-title">
      <div className="page-head">
        <h1 id="batch-title">
          Batch operation <span className="mono">{shortId(op.id)}</span>
        </h1>
        <span>{batchActionLabel(op)}</span>
      </div>
      <p className="mono run-id">{op.id}</p>
      <div className="card">
        <BatchProgress initial={op} />
      </div>
      <dl className="header-grid card">
        <div>
          <dt>Selection</dt>
          <dd>
            {sel.case === "runIds" ? (
              `${sel.value.ids.length} run ids`
            ) : sel.case === "filter" ? (
              <Link to={filterLink(sel.value)}>the runs of this filter</Link>
            ) : (
              "—"
            )}
          </dd>
        </div>
        <div>
          <dt>Requested by</dt>
          <dd className="mono">{op.requestedBy}</dd>
        </div>
        <div>
          <dt>Description</dt>
          <dd>{op.description || <span className="muted">—</span>}</dd>
        </div>
        <div>
          <dt>Rate</dt>
          <dd>{op.rate} runs/s</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            <Time t={op.createTime} />
          </dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd>
            <Time t={op.updateTime} />
          </dd>
        </div>
      </dl>
    </section>
  );
}

/** The runs list showing (about) what a filter selected: the fields the list can filter by. */
function filterLink(f: RunFilter): string {
  const q = new URLSearchParams();
  if (f.statuses.length) q.set("status", f.statuses.map(statusKey).join(","));
  if (f.workflowName) q.set("workflow", f.workflowName);
  if (f.workflowVersionId) q.set("version", f.workflowVersionId);
  if (f.referenceId) q.set("ref", f.referenceId);
  if (f.parentRunId) q.set("parent", f.parentRunId);
  if (f.scheduleId) q.set("schedule", f.scheduleId);
  if (f.runIds.length) q.set("run", f.runIds.join(","));
  for (const [k, v] of Object.entries(f.tags)) q.append("tag", `${k}=${v}`);
  const s = q.toString();
  return s ? `/runs?${s}` : "/runs";
}
