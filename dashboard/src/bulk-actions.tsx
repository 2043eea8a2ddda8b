// Bulk actions (BatchService): one action on the selected runs or on every run the list's filter
// matches. The dialog first asks the server how many runs the selection holds (a dry run), so the
// confirmation names the real count, then starts the operation and shows its progress until it ends.
import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type BatchOperation, BatchOperationStatus, type StartBatchOperationRequestSchema } from "@aiki/gen/aiki/v1/batch_service_pb";
import { useAccess } from "./access.js";
import { batchApi, errorText } from "./api.js";
import { shortId } from "./format.js";
import { Link } from "./router.js";
import { Field, Time } from "./ui.js";

export type BulkActionKind = "cancel" | "pause" | "resume" | "awake" | "rerun";

interface BulkActionInfo {
  label: string;
  verb: string;
  takesReason: boolean;
  danger?: boolean;
  /** What happens to each run, and which are skipped. */
  explain: string;
}

export const bulkActions: Record<BulkActionKind, BulkActionInfo> = {
  cancel: {
    label: "Cancel",
    verb: "cancel",
    takesReason: true,
    danger: true,
    explain: "Each run is cancelled with its unfinished descendants; runs already finished are skipped. This cannot be undone.",
  },
  pause: { label: "Pause", verb: "pause", takesReason: true, explain: "Each run does nothing until resumed; finished or paused runs are skipped." },
  resume: {
    label: "Resume",
    verb: "resume",
    takesReason: true,
    explain: "Each paused run is queued again and replays its history; runs not paused are skipped.",
  },
  awake: { label: "Awake", verb: "awake", takesReason: false, explain: "Each sleeping run's sleep ends now; runs not sleeping are skipped." },
  rerun: {
    label: "Rerun",
    verb: "rerun",
    takesReason: false,
    explain:
      "Each finished run gets a new run, with its input and tags, that reuses its history up to its last failure and goes live from there; the runs themselves are not changed. Runs not finished are skipped.",
  },
};

export const bulkActionOrder: BulkActionKind[] = ["cancel", "pause", "resume", "awake", "rerun"];

type StartRequest = MessageInitShape<typeof StartBatchOperationRequestSchema>;
export type BulkSelection = NonNullable<StartRequest["selection"]>;

function actionOf(kind: BulkActionKind, reason: string): NonNullable<StartRequest["action"]> {
  switch (kind) {
    case "cancel":
      return { action: { case: "cancel", value: { reason } } };
    case "pause":
      return { action: { case: "pause", value: { reason } } };
    case "resume":
      return { action: { case: "resume", value: { reason } } };
    case "awake":
      return { action: { case: "awake", value: {} } };
    case "rerun":
      return { action: { case: "rerun", value: { from: { case: "lastFailure", value: {} } } } };
  }
}

/** A v4 UUID for the request id: crypto.randomUUID needs a secure context, a plain-http server is not one. */
function requestId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function batchStatusLabel(s: BatchOperationStatus): string {
  return (BatchOperationStatus[s] ?? "UNSPECIFIED").toLowerCase();
}

/** "pause", "rerun (last failure)", "send event approved". */
export function batchActionLabel(op: BatchOperation): string {
  const a = op.action?.action;
  if (!a) return "—";
  switch (a.case) {
    case "sendEvent":
      return `send event ${a.value.eventName}`;
    case "rerun":
      return a.value.from.case === "lastFailure" ? "rerun (last failure)" : "rerun (start)";
    case undefined:
      return "—";
    case "awake":
    case "cancel":
    case "pause":
    case "resume":
      return a.case;
  }
}

export function BatchStatusBadge({ status }: { status: BatchOperationStatus }) {
  const cls = {
    [BatchOperationStatus.RUNNING]: "s-running",
    [BatchOperationStatus.COMPLETED]: "s-completed",
    [BatchOperationStatus.CANCELLED]: "s-cancelled",
    [BatchOperationStatus.FAILED]: "s-failed",
    [BatchOperationStatus.UNSPECIFIED]: "",
  }[status];
  return (
    <span className={`badge ${cls}`} data-batch-status={BatchOperationStatus[status]}>
      {batchStatusLabel(status)}
    </span>
  );
}

const runs = (n: bigint | number) => `${n} ${n === 1n || n === 1 ? "run" : "runs"}`;

/**
 * The confirmation (with the dry run's count and a reason where the action takes one), then the
 * operation's progress. `scope` says in words which runs ("the 3 selected runs").
 */
export function BulkDialog({
  kind,
  selection,
  scope,
  onClose,
}: {
  kind: BulkActionKind;
  selection: BulkSelection;
  scope: string;
  /** `started`: an operation was started (the list may have changed). */
  onClose: (started: boolean) => void;
}) {
  const info = bulkActions[kind];
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const [matching, setMatching] = useState<bigint | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [operation, setOperation] = useState<BatchOperation | undefined>();
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  useEffect(() => {
    let live = true;
    batchApi.startBatchOperation({ selection, action: actionOf(kind, ""), dryRun: true }).then(
      (res) => live && setMatching(res.matching),
      (err: unknown) => live && setError(errorText(err)),
    );
    return () => {
      live = false;
    };
  }, []);

  const close = () => onClose(operation !== undefined);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const reason = String(new FormData(e.currentTarget).get("reason") ?? "");
    setBusy(true);
    setError(undefined);
    try {
      const res = await batchApi.startBatchOperation({
        requestId: requestId(),
        selection,
        action: actionOf(kind, reason),
        description: `dashboard: ${info.verb} ${scope}`,
      });
      setOperation(res.operation);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={close} onCancel={close} className="bulk-dialog">
      {operation ? (
        <div>
          <h2 id={titleId}>
            {info.label}: {scope}
          </h2>
          <BatchProgress initial={operation} />
          <div className="buttons">
            <Link to={`/batches/${operation.id}`}>Open the operation</Link>
            <button type="button" className="primary" onClick={close}>
              Close
            </button>
          </div>
        </div>
      ) : (
        <form onSubmit={submit}>
          <h2 id={titleId}>
            {info.label} {scope}?
          </h2>
          <p data-matching={matching === undefined ? undefined : String(matching)}>
            {matching === undefined ? (
              error ? null : (
                <span className="muted">Counting the runs…</span>
              )
            ) : (
              <>
                This will {info.verb} <strong>{runs(matching)}</strong> (counted now; runs that change meanwhile are skipped, never acted on twice).
              </>
            )}
          </p>
          <p>{info.explain}</p>
          {info.takesReason ? (
            <Field label="Reason (optional)" hint="Recorded in each run's history.">
              <input name="reason" maxLength={1024} />
            </Field>
          ) : null}
          {error ? (
            <p className="error-box" role="alert">
              {error}
            </p>
          ) : null}
          <div className="buttons">
            <button type="button" onClick={close}>
              Close
            </button>
            <button type="submit" className={info.danger ? "danger" : "primary"} disabled={busy || matching === undefined || matching === 0n}>
              {busy ? "Starting…" : `${info.label} ${matching === undefined ? "" : runs(matching)}`.trim()}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

/** An operation's progress, polled while it runs: counts, a bar, its failures, and a way to stop it. */
export function BatchProgress({ initial }: { initial: BatchOperation }) {
  const [op, setOp] = useState(initial);
  const [error, setError] = useState<string | undefined>();
  const [cancelling, setCancelling] = useState(false);
  const running = op.status === BatchOperationStatus.RUNNING;
  const { canWrite } = useAccess();
  useEffect(() => {
    if (!running) return;
    // Progress is not streamed: a read every half second is cheap and close enough.
    const timer = setInterval(() => {
      batchApi.getBatchOperation({ operationId: op.id }).then(
        (res) => {
          if (res.operation) setOp(res.operation);
          setError(undefined);
        },
        (err: unknown) => setError(errorText(err)),
      );
    }, 500);
    return () => clearInterval(timer);
  }, [op.id, running]);
  const gone = op.done + op.skipped + op.failed;
  const cancel = async () => {
    setCancelling(true);
    try {
      const res = await batchApi.cancelBatchOperation({ operationId: op.id, reason: "cancelled from the dashboard" });
      if (res.operation) setOp(res.operation);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setCancelling(false);
    }
  };
  return (
    <div className="batch-progress" data-operation-id={op.id}>
      <p role="status" aria-live="polite">
        <BatchStatusBadge status={op.status} /> {gone.toString()} of {runs(op.matching)} gone through
        {op.statusReason ? <span className="muted"> · {op.statusReason}</span> : null}
      </p>
      <progress max={Number(op.matching) || 1} value={Number(gone)} aria-label="Runs gone through" />
      <dl className="counts">
        <div>
          <dt>Done</dt>
          <dd data-count="done">{op.done.toString()}</dd>
        </div>
        <div>
          <dt>Skipped</dt>
          <dd data-count="skipped">{op.skipped.toString()}</dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd data-count="failed">{op.failed.toString()}</dd>
        </div>
      </dl>
      {op.failures.length > 0 ? (
        <div>
          <h3>Failures{op.failed > BigInt(op.failures.length) ? ` (the first ${op.failures.length})` : null}</h3>
          <ul className="failures">
            {op.failures.map((f) => (
              <li key={f.runId}>
                <Link to={`/runs/${f.runId}`} className="mono">
                  {shortId(f.runId)}
                </Link>{" "}
                {f.reason}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {error ? (
        <p className="error-box" role="alert">
          {error}
        </p>
      ) : null}
      {running ? (
        canWrite ? (
          <button type="button" className="danger" onClick={() => void cancel()} disabled={cancelling}>
            {cancelling ? "Cancelling…" : "Cancel operation"}
          </button>
        ) : null
      ) : (
        <p className="muted">
          Ended <Time t={op.endTime} />
        </p>
      )}
    </div>
  );
}
