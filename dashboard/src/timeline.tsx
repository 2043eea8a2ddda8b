// One timeline of a run: its transitions, tasks, sleeps, event waits, events and child runs,
// merged by time and grouped by workflow attempt; as a list or as bars on a time axis.
import type { JsonValue } from "@bufbuild/protobuf";
import { type ReactNode, useState } from "react";
import { ChildWaitStatus, EventWaitStatus, type RunHistory, SleepStatus, TaskStatus, type Event } from "@aiki/gen/aiki/v1/history_pb";
import { RunStatus, type RunTransition } from "@aiki/gen/aiki/v1/run_pb";
import { durationMs, formatDuration, ms, shortId, statusLabel, valueJson } from "./format.js";
import { Link } from "./router.js";
import { FailureView, JsonView, Time } from "./ui.js";

export type ItemKind = "transition" | "task" | "sleep" | "event-wait" | "event" | "child" | "child-wait";

export interface TimelineItem {
  key: string;
  kind: ItemKind;
  /** When it began (ms). */
  time: number;
  /** When it ended (ms); undefined while it lasts, or for instants. */
  end?: number;
  /** True for things that last (tasks, sleeps, waits) rather than instants. */
  span: boolean;
  attempt: number;
  title: string;
  state: string;
  body?: ReactNode;
}

const lower = (s: string | undefined) => (s ?? "").toLowerCase().replace(/_/g, " ");

export function timelineItems(history: RunHistory | undefined, events: Event[], transitions: RunTransition[]): TimelineItem[] {
  // Workflow attempts start where their first task was recorded; everything else joins the
  // attempt that was going on at its time.
  const starts = new Map<number, number>();
  for (const t of history?.tasks ?? []) {
    const at = ms(t.createTime) ?? 0;
    const n = t.workflowAttempt || 1;
    if (n > 1 && (!starts.has(n) || at < starts.get(n)!)) starts.set(n, at);
  }
  const bounds = [...starts.entries()].sort((a, b) => a[0] - b[0]);
  const attemptAt = (time: number) => bounds.reduce((n, [a, at]) => (time >= at ? a : n), 1);

  const items: TimelineItem[] = [];
  for (const t of transitions) {
    const time = ms(t.time) ?? 0;
    const from = t.fromStatus === RunStatus.UNSPECIFIED ? "created" : statusLabel(t.fromStatus);
    items.push({
      key: `tr-${t.revision}`,
      kind: "transition",
      time,
      span: false,
      attempt: attemptAt(time),
      title: `${from} → ${statusLabel(t.toStatus)}`,
      state: statusLabel(t.toStatus),
      body: (
        <span className="muted">
          by {t.actor}
          {t.reason ? ` · ${t.reason}` : ""} · revision {t.revision}
        </span>
      ),
    });
  }
  for (const t of history?.tasks ?? []) {
    const time = ms(t.createTime) ?? 0;
    const done = t.status === TaskStatus.COMPLETED || t.status === TaskStatus.FAILED;
    items.push({
      key: `task-${t.id}`,
      kind: "task",
      time,
      ...(done ? { end: ms(t.updateTime) ?? time } : {}),
      span: true,
      attempt: t.workflowAttempt || 1,
      title: `task ${t.name}${t.sequence ? ` #${t.sequence}` : ""}`,
      state: lower(TaskStatus[t.status]),
      body: (
        <Details
          rows={[
            ["Attempts", String(t.attempts)],
            ["Input", <JsonView key="i" value={valueJson(t.input)} label="task input" />],
            ...(t.output ? ([["Output", <JsonView key="o" value={valueJson(t.output)} label="task output" />]] as const) : []),
            ...(t.failure ? ([["Last failure", <FailureView key="f" failure={t.failure} />]] as const) : []),
            ...(t.nextAttemptTime ? ([["Next attempt", <Time key="n" t={t.nextAttemptTime} />]] as const) : []),
          ]}
        />
      ),
    });
  }
  for (const s of history?.sleeps ?? []) {
    const time = ms(s.startTime) ?? 0;
    const end = ms(s.endTime);
    items.push({
      key: `sleep-${s.name}-${s.sequence}`,
      kind: "sleep",
      time,
      ...(end !== undefined ? { end } : {}),
      span: true,
      attempt: attemptAt(time),
      title: `sleep ${s.name}${s.sequence ? ` #${s.sequence}` : ""} (${formatDuration(durationMs(s.duration) ?? 0)})`,
      state: s.status === SleepStatus.CANCELLED ? "awoken early" : lower(SleepStatus[s.status]),
      body: (
        <Details
          rows={[
            ["Wakes", <Time key="w" t={s.wakeTime} />],
            ["Ended", <Time key="e" t={s.endTime} />],
          ]}
        />
      ),
    });
  }
  for (const w of history?.eventWaits ?? []) {
    const time = ms(w.startTime) ?? 0;
    const end = ms(w.endTime);
    items.push({
      key: `wait-${w.eventName}-${w.sequence}`,
      kind: "event-wait",
      time,
      ...(end !== undefined ? { end } : {}),
      span: true,
      attempt: attemptAt(time),
      title: `wait for event ${w.eventName}${w.sequence ? ` #${w.sequence}` : ""}`,
      state: lower(EventWaitStatus[w.status]),
      body: (
        <Details
          rows={[
            ["Timeout", w.timeout ? formatDuration(durationMs(w.timeout) ?? 0) : "none"],
            ...(w.event ? ([["Received", <JsonView key="d" value={valueJson(w.event.data)} label="event data" />]] as const) : []),
          ]}
        />
      ),
    });
  }
  for (const e of events) {
    const time = ms(e.createTime) ?? 0;
    items.push({
      key: `event-${e.id}`,
      kind: "event",
      time,
      span: false,
      attempt: attemptAt(time),
      title: `event ${e.name} received`,
      state: e.consumed ? "consumed" : "pending",
      body: (
        <Details
          rows={[
            ["Data", <JsonView key="d" value={valueJson(e.data) as JsonValue | undefined} label="event data" />],
            ...(e.referenceId ? ([["Reference id", e.referenceId]] as const) : []),
          ]}
        />
      ),
    });
  }
  for (const c of history?.childRuns ?? []) {
    const time = ms(c.createTime) ?? 0;
    items.push({
      key: `child-${c.childRunId}`,
      kind: "child",
      time,
      span: false,
      attempt: attemptAt(time),
      title: `child run ${c.workflowName} ${c.workflowVersionId} started`,
      state: "started",
      body: (
        <span>
          <Link to={`/runs/${c.childRunId}`} className="mono">
            {shortId(c.childRunId)}
          </Link>{" "}
          <span className="muted">key {c.key}</span>
        </span>
      ),
    });
  }
  for (const w of history?.childWaits ?? []) {
    const time = ms(w.startTime) ?? 0;
    const end = ms(w.endTime);
    items.push({
      key: `cwait-${w.childRunId}-${w.sequence}`,
      kind: "child-wait",
      time,
      ...(end !== undefined ? { end } : {}),
      span: true,
      attempt: attemptAt(time),
      title: `wait for child ${shortId(w.childRunId)}`,
      state: w.status === ChildWaitStatus.FINISHED ? `child ${statusLabel(w.childStatus)}` : lower(ChildWaitStatus[w.status]),
      body: (
        <Details
          rows={[
            [
              "Child",
              <Link key="c" to={`/runs/${w.childRunId}`} className="mono">
                {shortId(w.childRunId)}
              </Link>,
            ],
            ...(w.output ? ([["Output", <JsonView key="o" value={valueJson(w.output)} label="child output" />]] as const) : []),
            ...(w.failure ? ([["Failure", <FailureView key="f" failure={w.failure} />]] as const) : []),
          ]}
        />
      ),
    });
  }
  // At equal times an arriving event comes before the transition it caused; otherwise the order
  // above (transitions first) holds.
  const rank = (i: TimelineItem) => (i.kind === "event" ? 0 : 1);
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => a.item.time - b.item.time || rank(a.item) - rank(b.item) || a.i - b.i)
    .map((x) => x.item);
}

function Details({ rows }: { rows: ReadonlyArray<readonly [string, ReactNode]> }) {
  return (
    <dl className="details">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Timeline({ items, runStart, runEnd }: { items: TimelineItem[]; runStart: number; runEnd: number }) {
  const [view, setView] = useState<"list" | "gantt">("list");
  const attempts = [...new Set(items.map((i) => i.attempt))].sort((a, b) => a - b);
  return (
    <section aria-labelledby="timeline-title" className="card">
      <div className="page-head">
        <h2 id="timeline-title">Timeline</h2>
        <div className="segmented" role="group" aria-label="Timeline view">
          <button type="button" aria-pressed={view === "list"} onClick={() => setView("list")}>
            List
          </button>
          <button type="button" aria-pressed={view === "gantt"} onClick={() => setView("gantt")}>
            Durations
          </button>
        </div>
      </div>
      {items.length === 0 ? <p className="muted">Nothing recorded yet.</p> : null}
      {attempts.map((a) => {
        const mine = items.filter((i) => i.attempt === a);
        return (
          <div key={a} className="attempt">
            {attempts.length > 1 ? <h3>Attempt {a}</h3> : null}
            {view === "list" ? <ItemList items={mine} /> : <Gantt items={mine} start={runStart} end={runEnd} />}
          </div>
        );
      })}
    </section>
  );
}

function ItemList({ items }: { items: TimelineItem[] }) {
  return (
    <ol className="timeline">
      {items.map((i) => (
        <li key={i.key} className={`t-${i.kind}`} data-kind={i.kind}>
          <div className="t-head">
            <Time t={i.time} />
            <span className="t-title">{i.title}</span>
            <span className="tag">{i.state}</span>
            {i.span && i.end !== undefined ? <span className="muted">{formatDuration(i.end - i.time)}</span> : null}
          </div>
          {i.body ? (
            i.kind === "transition" ? (
              <div className="t-body">{i.body}</div>
            ) : (
              <details className="t-body">
                <summary>Details</summary>
                {i.body}
              </details>
            )
          ) : null}
        </li>
      ))}
    </ol>
  );
}

/** Bars on one time axis from the run's creation to its end (or now). */
function Gantt({ items, start, end }: { items: TimelineItem[]; start: number; end: number }) {
  const total = Math.max(1, end - start);
  const pct = (t: number) => `${(Math.min(Math.max(t - start, 0), total) / total) * 100}%`;
  return (
    <div className="gantt" role="list" aria-label={`Durations over ${formatDuration(total)}`}>
      {items
        .filter((i) => i.kind !== "transition")
        .map((i) => {
          const stop = i.span ? (i.end ?? end) : i.time;
          const width = i.span ? `max(3px, ${(Math.max(stop - i.time, 0) / total) * 100}%)` : "3px";
          return (
            <div key={i.key} className="g-row" role="listitem">
              <span className="g-label" title={i.title}>
                {i.title}
              </span>
              <span className="g-track">
                <span className={`g-bar g-${i.kind}${i.span && i.end === undefined ? " g-open" : ""}`} style={{ left: pct(i.time), width }} />
              </span>
              <span className="g-dur muted">{i.span ? formatDuration(stop - i.time) : "instant"}</span>
            </div>
          );
        })}
    </div>
  );
}
