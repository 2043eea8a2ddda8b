// The small building blocks every page uses: status badges, times, a JSON viewer, failures,
// error and empty states, a confirm dialog, and a loader hook.
import type { JsonValue } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { cloneElement, type FormEvent, type ReactElement, type ReactNode, useCallback, useEffect, useId, useRef, useState } from "react";
import type { Failure } from "@aiki/gen/aiki/v1/payload_pb";
import type { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { errorText } from "./api.js";
import { formatTime, relative, statusKey, statusLabel } from "./format.js";
import type { LiveMode } from "./live.js";

export function StatusBadge({ status }: { status: RunStatus }) {
  return (
    <span className={`badge s-${statusKey(status).toLowerCase()}`} data-status={statusKey(status)}>
      {statusLabel(status)}
    </span>
  );
}

export function Time({ t }: { t: Timestamp | number | undefined }) {
  if (t === undefined) return <span className="muted">—</span>;
  return <time title={relative(t)}>{formatTime(t)}</time>;
}

/** A collapsible JSON tree; objects and arrays fold, scalars show as typed literals. */
export function JsonView({ value, label }: { value: JsonValue | undefined; label?: string }) {
  if (value === undefined) return <span className="muted">none</span>;
  return (
    <div className="json" role="group" aria-label={label}>
      <JsonNode value={value} depth={0} />
    </div>
  );
}

function JsonNode({ value, depth, name }: { value: JsonValue; depth: number; name?: string }) {
  const key = name === undefined ? null : <span className="j-key">{JSON.stringify(name)}: </span>;
  if (value === null || typeof value !== "object") {
    const cls = value === null ? "j-null" : `j-${typeof value}`;
    return (
      <div className="j-line">
        {key}
        <span className={cls}>{JSON.stringify(value)}</span>
      </div>
    );
  }
  const entries: [string | undefined, JsonValue][] = Array.isArray(value) ? value.map((v) => [undefined, v]) : Object.entries(value);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) {
    return (
      <div className="j-line">
        {key}
        {open}
        {close}
      </div>
    );
  }
  return (
    <details open={depth < 3}>
      <summary>
        {key}
        {open}
        <span className="muted">
          {" "}
          {entries.length} {Array.isArray(value) ? (entries.length === 1 ? "item" : "items") : entries.length === 1 ? "key" : "keys"}{" "}
        </span>
      </summary>
      <div className="j-children">
        {entries.map(([k, v], i) => (
          <JsonNode key={k ?? i} value={v} depth={depth + 1} {...(k === undefined ? {} : { name: k })} />
        ))}
      </div>
      <div className="j-line">{close}</div>
    </details>
  );
}

/** A failure: message, type, stack and its causes, each nested. */
export function FailureView({ failure }: { failure: Failure | undefined }) {
  if (!failure) return <span className="muted">none</span>;
  return (
    <div className="failure">
      <p>
        {failure.type ? <strong>{failure.type}: </strong> : null}
        {failure.message}
        {failure.nonRetryable ? <span className="tag">non-retryable</span> : null}
      </p>
      {failure.stack ? (
        <details>
          <summary>Stack</summary>
          <pre>{failure.stack}</pre>
        </details>
      ) : null}
      {failure.cause ? (
        <div className="cause">
          <span className="muted">Caused by</span>
          <FailureView failure={failure.cause} />
        </div>
      ) : null}
    </div>
  );
}

export function ErrorBox({ error, action }: { error: unknown; action?: ReactNode }) {
  return (
    <div className="error-box" role="alert">
      <p>{errorText(error)}</p>
      {action}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p>
        <strong>{title}</strong>
      </p>
      {children}
    </div>
  );
}

export function LiveIndicator({ mode }: { mode: LiveMode }) {
  const text = mode.kind === "live" ? "Live" : mode.kind === "ended" ? "Final" : mode.kind === "connecting" ? "Connecting…" : "Polling every 2 s";
  return (
    <span className={`live live-${mode.kind}`} data-live={mode.kind} title={mode.kind === "polling" ? `Live stream unavailable: ${mode.why}` : undefined}>
      {text}
    </span>
  );
}

export interface ConfirmProps {
  title: string;
  confirmLabel: string;
  danger?: boolean;
  /** The form's fields and explanations. */
  children?: ReactNode;
  /** Performs the action; a rejection is shown in the dialog and leaves it open. */
  onConfirm: (form: FormData) => Promise<void>;
  onClose: () => void;
}

/** A modal confirmation (the native <dialog>: focus trapped, Escape closes) showing the server's refusal in place. */
export function ConfirmDialog({ title, confirmLabel, danger, children, onConfirm, onClose }: ConfirmProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const titleId = useId();
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await onConfirm(new FormData(e.currentTarget));
      onClose();
    } catch (err) {
      setError(err instanceof Error && !("code" in err) ? err.message : errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={onClose} onCancel={onClose}>
      <form onSubmit={submit}>
        <h2 id={titleId}>{title}</h2>
        {children}
        {error ? (
          <p className="error-box" role="alert">
            {error}
          </p>
        ) : null}
        <div className="buttons">
          <button type="button" onClick={onClose}>
            Close
          </button>
          <button type="submit" className={danger ? "danger" : "primary"} disabled={busy}>
            {busy ? "Working…" : confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
  set: (data: T) => void;
}

/**
 * Loads once per `deps`, keeps the last data while reloading (no layout jump), and exposes reload
 * and set. With `isStale`, data older than what is shown (a slow reload answering after a live
 * update) is dropped instead of shown.
 */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[], isStale?: (next: T, current: T) => boolean): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const latest = useRef(load);
  latest.current = load;
  const staleRef = useRef(isStale);
  staleRef.current = isStale;
  const generation = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await latest.current();
      if (mine === generation.current)
        setState((s) => (s.data !== undefined && staleRef.current?.(data, s.data) ? { ...s, loading: false } : { data, error: undefined, loading: false }));
    } catch (error) {
      if (mine === generation.current) setState((s) => ({ data: s.data, error, loading: false }));
    }
  }, []);
  useEffect(() => {
    void reload();
  }, deps);
  const set = useCallback(
    (data: T) => setState((s) => (s.data !== undefined && staleRef.current?.(data, s.data) ? s : { data, error: undefined, loading: s.loading })),
    [],
  );
  return { ...state, reload, set };
}

/** A labelled form control; the hint is its description, not part of its name. */
export function Field({ label, children, hint }: { label: string; children: ReactElement<{ id?: string; "aria-describedby"?: string }>; hint?: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, { id, ...(hint ? { "aria-describedby": `${id}-hint` } : {}) })}
      {hint ? (
        <small className="muted" id={`${id}-hint`}>
          {hint}
        </small>
      ) : null}
    </div>
  );
}

/** A JSON editor: a monospace textarea that says at once whether its text parses. */
export function JsonTextarea({
  name,
  defaultValue,
  rows,
  id,
  ...rest
}: {
  name: string;
  defaultValue?: string;
  rows?: number;
  id?: string;
  "aria-describedby"?: string;
}) {
  const [problem, setProblem] = useState<string | undefined>();
  const check = (text: string) => {
    if (text.trim() === "") return setProblem(undefined);
    try {
      JSON.parse(text);
      setProblem(undefined);
    } catch (error) {
      setProblem((error as Error).message);
    }
  };
  const problemId = `${id ?? name}-problem`;
  const described = [rest["aria-describedby"], problem ? problemId : undefined].filter(Boolean).join(" ") || undefined;
  return (
    <>
      <textarea
        id={id}
        name={name}
        rows={rows ?? 6}
        className="mono"
        spellCheck={false}
        defaultValue={defaultValue}
        aria-invalid={problem ? true : undefined}
        aria-describedby={described}
        onChange={(e) => check(e.target.value)}
      />
      {problem ? (
        <small className="json-problem" id={problemId}>
          Not valid JSON yet: {problem}
        </small>
      ) : null}
    </>
  );
}
