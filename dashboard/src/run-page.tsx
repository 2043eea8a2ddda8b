// One run: its header, input/output/failure, the timeline, the child-run tree and the actions,
// kept current by WatchRun (polling when the stream is unavailable).
import { Code } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type ReactNode, useEffect, useState } from "react";
import { EventWaitStatus, type Event, type RunHistory, TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { type RerunStep, type Run, RunFailureCause, type RunTransition } from "@aiki/gen/aiki/v1/run_pb";
import { eventsApi, isCode, runsApi } from "./api.js";
import { useAccess } from "./access.js";
import { ms, parseJsonInput, shortId, statusLabel, terminal, toValue, valueJson } from "./format.js";
import { useLive } from "./live.js";
import { Link, navigate } from "./router.js";
import { timelineItems, Timeline } from "./timeline.js";
import { ConfirmDialog, ErrorBox, FailureView, Field, JsonTextarea, JsonView, LiveIndicator, StatusBadge, Time, useLoad } from "./ui.js";

interface Detail {
  run: Run;
  history: RunHistory | undefined;
  events: Event[];
  transitions: RunTransition[];
  children: Run[];
  /** Runs started from this one's history (RerunRun), newest first. */
  reruns: Run[];
}

async function listAll<T>(page: (token: string) => Promise<{ items: T[]; next: string }>, limit = 5_000): Promise<T[]> {
  const all: T[] = [];
  let token = "";
  do {
    const { items, next } = await page(token);
    all.push(...items);
    token = next;
  } while (token && all.length < limit);
  return all;
}

async function loadDetail(runId: string, run?: Run): Promise<Detail> {
  const [got, history, transitions, children, reruns] = await Promise.all([
    run ? Promise.resolve(run) : runsApi.getRun({ runId }).then((r) => r.run!),
    runsApi.getRunHistory({ runId }),
    listAll((pageToken) => runsApi.listRunTransitions({ runId, pageSize: 1000, pageToken }).then((r) => ({ items: r.transitions, next: r.nextPageToken }))),
    listAll((pageToken) => runsApi.listChildRuns({ parentRunId: runId, pageSize: 1000, pageToken }).then((r) => ({ items: r.runs, next: r.nextPageToken }))),
    runsApi.listRuns({ rerunOf: runId, pageSize: 100 }).then((r) => r.runs),
  ]);
  return { run: got, history: history.history, events: history.events, transitions, children, reruns };
}

/** Where a rerun went live, in words. */
function rerunStepText(step: RerunStep | undefined): string {
  const asked = step?.lastFailure ? " (its last failure)" : "";
  switch (step?.point.case) {
    case "start":
      return "from the start";
    case "task":
      return `from task ${step.point.value.address.split(":")[0]} #${step.point.value.sequence}${asked}`;
    case "historyEnd":
      return `after its whole history${asked}`;
    default:
      return "";
  }
}

/** Every non-terminal descendant (breadth first, bounded), for the cancel dialog. */
async function liveDescendants(runId: string, limit = 200): Promise<Run[]> {
  const found: Run[] = [];
  let level = [runId];
  while (level.length && found.length < limit) {
    const next: string[] = [];
    for (const id of level) {
      const kids = await runsApi.listChildRuns({ parentRunId: id, pageSize: 1000 });
      for (const k of kids.runs) {
        if (!terminal.has(k.status)) found.push(k);
        next.push(k.id);
      }
    }
    level = next;
  }
  return found.slice(0, limit);
}

type Action = "cancel" | "pause" | "resume" | "awake" | "event" | "rerun" | "keep";
/** The toolbar's actions in order, with their labels: every one for a run not finished, the last two for one finished. */
const runActions: ReadonlyArray<readonly [Action, string]> = [
  ["cancel", "Cancel…"],
  ["pause", "Pause…"],
  ["resume", "Resume…"],
  ["awake", "Awake…"],
  ["event", "Send event…"],
  ["rerun", "Rerun…"],
  ["keep", "Keep…"],
];
const finishedActions = runActions.slice(-2);

/** "Kept forever", "Kept until …", or the server's policy (docs/retention.md). */
function Retention({ run }: { run: Run }) {
  if (run.retainForever) return <span data-retention="forever">Kept forever</span>;
  if (run.retainUntil)
    return (
      <span data-retention="until">
        Kept until <Time t={run.retainUntil} />
      </span>
    );
  return (
    <span className="muted" data-retention="policy">
      by the server's policy
    </span>
  );
}

/** A datetime-local value ("2026-12-07T18:30") for a time, in local time as the input reads it. */
function localInput(msValue: number): string {
  const d = new Date(msValue - new Date(msValue).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

export function RunPage({ runId }: { runId: string }) {
  // Reloads (after an action, while polling) and live updates race: an older revision never
  // replaces a newer one on screen.
  const detail = useLoad(
    () => loadDetail(runId),
    [runId],
    (next, current) => next.run.revision < current.run.revision,
  );
  const [action, setAction] = useState<Action | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const access = useAccess();

  const mode = useLive(
    {
      open: (signal) => runsApi.watchRun({ runId }, { signal }),
      onMessage: (m, first) => {
        if (!m.run) return; // keep-alive
        const run = m.run;
        if (first || m.historyChanged) {
          void loadDetail(runId, run).then(detail.set, () => undefined);
        } else if (detail.data) {
          detail.set({ ...detail.data, run });
        }
      },
      poll: () => detail.reload(),
      endIsFinal: true,
    },
    [runId],
  );

  if (detail.error && !detail.data) {
    return (
      <section>
        <h1>Run {shortId(runId)}</h1>
        <ErrorBox
          error={detail.error}
          action={
            isCode(detail.error, Code.NotFound) ? (
              <p>
                No run has this id in this namespace. <Link to="/runs">Back to the runs</Link>
              </p>
            ) : (
              <button type="button" onClick={() => void detail.reload()}>
                Try again
              </button>
            )
          }
        />
      </section>
    );
  }
  if (!detail.data) return <p className="muted">Loading run…</p>;
  const { run, history, events, transitions, children, reruns } = detail.data;
  const start = ms(run.createTime) ?? Date.now();
  const end = ms(run.endTime) ?? Date.now();
  const items = timelineItems(history, events, transitions);
  const done = (text: string) => {
    setNotice(text);
    void detail.reload();
  };
  const waitingFor = (history?.eventWaits ?? []).filter((w) => w.status === EventWaitStatus.WAITING).map((w) => w.eventName);

  return (
    <section aria-labelledby="run-title">
      <div className="page-head">
        <h1 id="run-title">
          {run.workflowName} <span className="mono muted">{run.workflowVersionId}</span>
        </h1>
        <StatusBadge status={run.status} />
        {run.retainForever || run.retainUntil ? (
          <span className="tag retention-tag">
            <Retention run={run} />
          </span>
        ) : null}
        <LiveIndicator mode={mode} />
      </div>
      <p className="mono run-id">{run.id}</p>
      {Object.keys(run.tags).length > 0 ? (
        <ul className="tag-list" aria-label="Tags">
          {Object.entries(run.tags).map(([k, v]) => (
            <li key={k}>
              <Link to={`/runs?${new URLSearchParams({ tag: `${k}=${v}` })}`} className="tag-chip" title={`Runs tagged ${k}=${v}`}>
                {k}={v}
              </Link>
            </li>
          ))}
        </ul>
      ) : null}
      {access.canWrite ? (
        <div className="actions" role="toolbar" aria-label="Run actions">
          {/* A finished run takes none of the live actions (the server would refuse each): only rerun, keep and start again. */}
          {(terminal.has(run.status) ? finishedActions : runActions).map(([a, label]) => (
            <button key={a} type="button" className={a === "cancel" ? "danger" : undefined} onClick={() => setAction(a)}>
              {label}
            </button>
          ))}
          <button
            type="button"
            onClick={() => {
              const q = new URLSearchParams({ workflow: run.workflowName, version: run.workflowVersionId, from: run.id });
              const input = valueJson(run.input);
              if (input !== undefined) q.set("input", JSON.stringify(input, null, 2));
              navigate(`/start?${q}`);
            }}
          >
            Start again with this input
          </button>
        </div>
      ) : null}
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      {detail.error ? <ErrorBox error={detail.error} /> : null}

      <dl className="header-grid card">
        <Item k="Status">
          <StatusBadge status={run.status} />
        </Item>
        <Item k="Reason">{run.statusReason || <span className="muted">—</span>}</Item>
        <Item k="Attempt">{run.attempt}</Item>
        <Item k="Revision">{run.revision}</Item>
        <Item k="Created">
          <Time t={run.createTime} />
        </Item>
        <Item k="Started">
          <Time t={run.startTime} />
        </Item>
        <Item k="Updated">
          <Time t={run.updateTime} />
        </Item>
        <Item k="Ended">
          <Time t={run.endTime} />
        </Item>
        {run.wakeTime ? (
          <Item k="Wakes">
            <Time t={run.wakeTime} />
          </Item>
        ) : null}
        <Item k="Reference id">{run.referenceId || <span className="muted">—</span>}</Item>
        <Item k="Parent">
          {run.parentRunId ? (
            <Link to={`/runs/${run.parentRunId}`} className="mono">
              {shortId(run.parentRunId)}
            </Link>
          ) : (
            <span className="muted">top-level</span>
          )}
        </Item>
        {run.rerunOf ? (
          <Item k="Rerun of">
            <Link to={`/runs/${run.rerunOf}`} className="mono">
              {shortId(run.rerunOf)}
            </Link>{" "}
            <span className="muted">{rerunStepText(run.fromStep)}</span>
          </Item>
        ) : null}
        {reruns.length > 0 ? (
          <Item k="Reruns">
            <span className="reruns">
              {reruns.map((r, i) => (
                <span key={r.id}>
                  {i > 0 ? ", " : null}
                  <Link to={`/runs/${r.id}`} className="mono">
                    {shortId(r.id)}
                  </Link>
                </span>
              ))}
            </span>
          </Item>
        ) : null}
        <Item k="Retention">
          <Retention run={run} />
        </Item>
        <Item k="Shard">{run.shard || <span className="muted">unsharded</span>}</Item>
        <Item k="Lease">
          {run.leaseWorkerId ? (
            <span>
              <Link to="/workers" className="mono">
                {run.leaseWorkerId}
              </Link>{" "}
              <span className="muted">
                until <Time t={run.leaseExpireTime} />
              </span>
            </span>
          ) : (
            <span className="muted">no worker holds it</span>
          )}
        </Item>
        {run.failureCause !== RunFailureCause.UNSPECIFIED ? (
          <Item k="Failure cause">{(RunFailureCause[run.failureCause] ?? "").toLowerCase().replace(/_/g, " ")}</Item>
        ) : null}
      </dl>

      <div className="payloads">
        <section className="card" aria-labelledby="input-title">
          <h2 id="input-title">Input</h2>
          <JsonView value={valueJson(run.input)} label="run input" />
        </section>
        <section className="card" aria-labelledby="output-title">
          <h2 id="output-title">Output</h2>
          <JsonView value={valueJson(run.output)} label="run output" />
        </section>
        {run.failure ? (
          <section className="card" aria-labelledby="failure-title">
            <h2 id="failure-title">Failure</h2>
            <FailureView failure={run.failure} />
          </section>
        ) : null}
      </div>

      <Timeline items={items} runStart={start} runEnd={end} />

      <section className="card" aria-labelledby="children-title">
        <h2 id="children-title">Child runs</h2>
        {children.length === 0 ? <p className="muted">This run started no child runs.</p> : <ChildTree runs={children} depth={0} />}
      </section>

      {action === "cancel" ? <CancelDialog run={run} onClose={() => setAction(undefined)} onDone={done} /> : null}
      {action === "pause" ? (
        <ConfirmDialog
          title={`Pause run ${shortId(run.id)}?`}
          confirmLabel="Pause run"
          onClose={() => setAction(undefined)}
          onConfirm={async (f) => {
            await runsApi.pauseRun({ runId: run.id, reason: String(f.get("reason") ?? "") });
            done("Paused.");
          }}
        >
          <p>It is {statusLabel(run.status)}. A paused run does nothing until it is resumed; a worker executing it stops at its next step.</p>
          <Field label="Reason (optional)">
            <input name="reason" maxLength={1024} />
          </Field>
        </ConfirmDialog>
      ) : null}
      {action === "resume" ? (
        <ConfirmDialog
          title={`Resume run ${shortId(run.id)}?`}
          confirmLabel="Resume run"
          onClose={() => setAction(undefined)}
          onConfirm={async (f) => {
            await runsApi.resumeRun({ runId: run.id, reason: String(f.get("reason") ?? "") });
            done("Resumed.");
          }}
        >
          <p>It is {statusLabel(run.status)}. It is queued again and replays from its history.</p>
          <Field label="Reason (optional)">
            <input name="reason" maxLength={1024} />
          </Field>
        </ConfirmDialog>
      ) : null}
      {action === "awake" ? (
        <ConfirmDialog
          title={`Awake run ${shortId(run.id)}?`}
          confirmLabel="Awake run"
          onClose={() => setAction(undefined)}
          onConfirm={async () => {
            await runsApi.awakeRun({ runId: run.id });
            done("Awoken.");
          }}
        >
          <p>It is {statusLabel(run.status)}. Its current sleep ends now; the workflow sees it as cancelled.</p>
        </ConfirmDialog>
      ) : null}
      {action === "rerun" ? (
        <ConfirmDialog
          title={`Rerun run ${shortId(run.id)}?`}
          confirmLabel="Rerun"
          onClose={() => setAction(undefined)}
          onConfirm={async (f) => {
            const from = String(f.get("from") ?? "last_failure");
            const hash = from.lastIndexOf("#");
            const input = parseJsonInput(String(f.get("input") ?? ""));
            const res = await runsApi.rerunRun({
              runId: run.id,
              from:
                from === "start"
                  ? { case: "start", value: {} }
                  : from === "last_failure"
                    ? { case: "lastFailure", value: {} }
                    : { case: "step", value: { address: from.slice(0, hash), sequence: Number(from.slice(hash + 1)) } },
              ...(input === undefined ? {} : { input: toValue(input) }),
            });
            navigate(`/runs/${res.run!.id}`);
          }}
        >
          <p>
            A new run of this version reuses the results recorded before the chosen step and executes live from there; this run is not changed. It must have
            ended (it is {statusLabel(run.status)}).
          </p>
          <Field label="From">
            <select name="from" defaultValue="last_failure">
              <option value="last_failure">the last failure</option>
              <option value="start">the start (reuse nothing)</option>
              {(history?.tasks ?? []).map((t) => (
                <option key={`${t.address}#${t.sequence}`} value={`${t.address}#${t.sequence}`}>
                  task {t.name} #{t.sequence} ({(TaskStatus[t.status] ?? "").toLowerCase()})
                </option>
              ))}
            </select>
          </Field>
          <Field label="Input (JSON)" hint="Empty keeps this run's input. Another input that changes a reused step's input fails the rerun.">
            <JsonTextarea name="input" defaultValue="" />
          </Field>
        </ConfirmDialog>
      ) : null}
      {action === "keep" ? (
        <ConfirmDialog
          title={`Keep run ${shortId(run.id)}`}
          confirmLabel="Set retention"
          onClose={() => setAction(undefined)}
          onConfirm={async (f) => {
            const how = String(f.get("keep") ?? "");
            if (how === "until") {
              const t = new Date(String(f.get("until") ?? "")).getTime();
              if (Number.isNaN(t)) throw new Error("Choose the date to keep the run until.");
              await runsApi.setRunRetention({ runId: run.id, until: timestampFromMs(t) });
              done(`Kept until ${new Date(t).toLocaleString()}.`);
            } else {
              await runsApi.setRunRetention({ runId: run.id, forever: how === "forever" });
              done(how === "forever" ? "Kept forever." : "Back to the server's retention policy.");
            }
          }}
        >
          <p>
            Finished runs are purged once older than the server's retention age (docs/retention.md). Now: <Retention run={run} />.
          </p>
          <fieldset className="retention-choice">
            <legend>Keep it</legend>
            <label>
              <input type="radio" name="keep" value="until" defaultChecked={!run.retainForever} /> until
            </label>
            <Field label="Keep until">
              <input
                name="until"
                type="datetime-local"
                defaultValue={localInput(ms(run.retainUntil) ?? Date.now() + 90 * 86_400_000)}
                onChange={(e) => {
                  // Picking a date means "until": no need to also pick the radio.
                  const until = e.currentTarget.form?.querySelector<HTMLInputElement>('input[name="keep"][value="until"]');
                  if (until) until.checked = true;
                }}
              />
            </Field>
            <label>
              <input type="radio" name="keep" value="forever" defaultChecked={run.retainForever} /> forever
            </label>
            <label>
              <input type="radio" name="keep" value="policy" /> as the server's policy says (clears what was set)
            </label>
          </fieldset>
        </ConfirmDialog>
      ) : null}
      {action === "event" ? (
        <ConfirmDialog
          title={`Send an event to run ${shortId(run.id)}`}
          confirmLabel="Send event"
          onClose={() => setAction(undefined)}
          onConfirm={async (f) => {
            const name = String(f.get("name") ?? "").trim();
            if (!name) throw new Error("The event needs a name.");
            const data = parseJsonInput(String(f.get("data") ?? ""));
            await eventsApi.sendEvent({
              targets: [{ target: { case: "runId", value: run.id } }],
              eventName: name,
              ...(data === undefined ? {} : { data: toValue(data) }),
              referenceId: String(f.get("reference") ?? "").trim(),
            });
            done(`Event ${name} sent.`);
          }}
        >
          {waitingFor.length ? <p>The run waits for: {waitingFor.join(", ")}.</p> : null}
          <Field label="Event name">
            <input name="name" list="waiting-events" defaultValue={waitingFor[0] ?? ""} required />
          </Field>
          <datalist id="waiting-events">
            {waitingFor.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
          <Field label="Data (JSON)" hint="Empty sends no data.">
            <JsonTextarea name="data" defaultValue="{}" />
          </Field>
          <Field label="Reference id (optional)" hint="Sending the same reference id again stores nothing new.">
            <input name="reference" />
          </Field>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

function Item({ k, children }: { k: string; children: ReactNode }) {
  return (
    <div>
      <dt>{k}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function CancelDialog({ run, onClose, onDone }: { run: Run; onClose: () => void; onDone: (text: string) => void }) {
  const [descendants, setDescendants] = useState<Run[] | undefined>();
  useEffect(() => {
    void liveDescendants(run.id).then(setDescendants, () => setDescendants([]));
  }, [run.id]);
  return (
    <ConfirmDialog
      title={`Cancel run ${shortId(run.id)}?`}
      confirmLabel="Cancel run"
      danger
      onClose={onClose}
      onConfirm={async (f) => {
        await runsApi.cancelRun({ runId: run.id, reason: String(f.get("reason") ?? "") });
        onDone("Cancelled.");
      }}
    >
      <p>It is {statusLabel(run.status)}. Cancelling cannot be undone.</p>
      {descendants === undefined ? (
        <p className="muted">Looking for descendants…</p>
      ) : descendants.length === 0 ? (
        <p>It has no running descendants.</p>
      ) : (
        <div>
          <p>
            This also cancels {descendants.length} {descendants.length === 1 ? "descendant" : "descendants"}:
          </p>
          <ul className="descendants">
            {descendants.map((d) => (
              <li key={d.id}>
                <span className="mono">{shortId(d.id)}</span> {d.workflowName} <StatusBadge status={d.status} />
              </li>
            ))}
          </ul>
        </div>
      )}
      <Field label="Reason (optional)">
        <input name="reason" maxLength={1024} />
      </Field>
    </ConfirmDialog>
  );
}

/** The child runs, each with its own children loaded as it is shown. */
function ChildTree({ runs, depth }: { runs: Run[]; depth: number }) {
  return (
    <ul className="tree" role={depth === 0 ? "tree" : "group"} aria-label={depth === 0 ? "Child runs" : undefined}>
      {runs.map((r) => (
        <ChildNode key={r.id} run={r} depth={depth} />
      ))}
    </ul>
  );
}

function ChildNode({ run, depth }: { run: Run; depth: number }) {
  const [open, setOpen] = useState(depth < 2);
  const kids = useLoad(
    async () => (open ? (await runsApi.listChildRuns({ parentRunId: run.id, pageSize: 1000 })).runs : undefined),
    [run.id, open, run.revision],
  );
  return (
    <li role="treeitem" tabIndex={-1} aria-expanded={kids.data?.length ? open : undefined} aria-selected={false}>
      <span className="tree-row">
        {kids.data === undefined || kids.data.length > 0 ? (
          <button type="button" className="twisty" aria-label={open ? "Collapse" : "Expand"} onClick={() => setOpen(!open)}>
            {open ? "▾" : "▸"}
          </button>
        ) : (
          <span className="twisty" />
        )}
        <Link to={`/runs/${run.id}`} className="mono">
          {shortId(run.id)}
        </Link>{" "}
        {run.workflowName} <span className="mono muted">{run.workflowVersionId}</span> <StatusBadge status={run.status} />
      </span>
      {open && kids.data && kids.data.length > 0 ? <ChildTree runs={kids.data} depth={depth + 1} /> : null}
    </li>
  );
}
