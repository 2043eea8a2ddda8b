// Schedules: the list, and one schedule with its next fire times, its recent occurrences (the
// runs it started) and pause / resume / delete.
import { Cron } from "croner";
import { useState } from "react";
import { OverlapPolicy, type Schedule, ScheduleStatus } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { runsApi, schedulesApi } from "./api.js";
import { useAccess } from "./access.js";
import { durationMs, formatDuration, ms, shortId, valueJson } from "./format.js";
import { Link, navigate } from "./router.js";
import { ConfirmDialog, Empty, ErrorBox, JsonView, StatusBadge, Time, useLoad } from "./ui.js";

function specText(s: Schedule): string {
  const spec = s.spec?.spec;
  if (spec?.case === "cron") return `cron ${spec.value.expression}${spec.value.timezone ? ` (${spec.value.timezone})` : " (UTC)"}`;
  if (spec?.case === "interval") return `every ${formatDuration(durationMs(spec.value.every) ?? 0)}`;
  return "—";
}

/** The next `n` occurrences, from the server's next time on. */
export function nextFireTimes(s: Schedule, n: number): number[] {
  const next = ms(s.nextTime);
  if (next === undefined || s.status !== ScheduleStatus.ACTIVE) return [];
  const spec = s.spec?.spec;
  if (spec?.case === "interval") {
    const every = durationMs(spec.value.every) ?? 0;
    return every > 0 ? Array.from({ length: n }, (_, i) => next + i * every) : [next];
  }
  if (spec?.case === "cron") {
    try {
      const cron = new Cron(spec.value.expression, { timezone: spec.value.timezone || "UTC", paused: true });
      const later = cron.nextRuns(n - 1, new Date(next)).map((d) => d.getTime());
      return [next, ...later];
    } catch {
      return [next];
    }
  }
  return [next];
}

const statusText = (s: ScheduleStatus) => (s === ScheduleStatus.ACTIVE ? "active" : s === ScheduleStatus.PAUSED ? "paused" : "—");

export function Schedules() {
  const list = useLoad(async () => (await schedulesApi.listSchedules({ pageSize: 1000 })).schedules, []);
  const schedules = list.data ?? [];
  return (
    <section aria-labelledby="schedules-title">
      <h1 id="schedules-title">Schedules</h1>
      {list.error ? <ErrorBox error={list.error} /> : null}
      {list.data && schedules.length === 0 ? (
        <Empty title="No schedules yet.">
          <p>
            Activate one from your code (<code>schedule(&#123; … &#125;).activate(…)</code> in <code>@aiki/sdk</code>); it shows here with its next fire times.
          </p>
        </Empty>
      ) : null}
      {schedules.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Workflow</th>
                <th scope="col">When</th>
                <th scope="col">Status</th>
                <th scope="col">Next</th>
                <th scope="col">Last</th>
              </tr>
            </thead>
            <tbody>
              {schedules.map((s) => (
                <tr key={s.id}>
                  <td>
                    <Link to={`/schedules/${s.id}`}>{s.name || shortId(s.id)}</Link>
                  </td>
                  <td>
                    {s.workflowName} <span className="mono muted">{s.workflowVersionId}</span>
                  </td>
                  <td>{specText(s)}</td>
                  <td>
                    <span className={`badge sched-${statusText(s.status)}`}>{statusText(s.status)}</span>
                  </td>
                  <td>
                    <Time t={s.nextTime} />
                  </td>
                  <td>
                    <Time t={s.lastTime} />
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

export function ScheduleDetail({ id }: { id: string }) {
  const schedule = useLoad(async () => (await schedulesApi.getSchedule({ scheduleId: id })).schedule!, [id]);
  const runs = useLoad(async () => (await runsApi.listRuns({ scheduleId: id, pageSize: 20 })).runs, [id]);
  const [action, setAction] = useState<"pause" | "resume" | "delete" | undefined>();
  const access = useAccess();
  if (schedule.error && !schedule.data) return <ErrorBox error={schedule.error} action={<Link to="/schedules">Back to the schedules</Link>} />;
  const s = schedule.data;
  if (!s) return <p className="muted">Loading schedule…</p>;
  const next = nextFireTimes(s, 5);
  return (
    <section aria-labelledby="schedule-title">
      <div className="page-head">
        <h1 id="schedule-title">Schedule {s.name || shortId(s.id)}</h1>
        <span className={`badge sched-${statusText(s.status)}`}>{statusText(s.status)}</span>
      </div>
      {access.canWrite ? (
        <div className="actions" role="toolbar" aria-label="Schedule actions">
          {s.status === ScheduleStatus.ACTIVE ? (
            <button type="button" onClick={() => setAction("pause")}>
              Pause…
            </button>
          ) : (
            <button type="button" onClick={() => setAction("resume")}>
              Resume…
            </button>
          )}
          <button type="button" className="danger" onClick={() => setAction("delete")}>
            Delete…
          </button>
        </div>
      ) : null}
      <dl className="header-grid card">
        <div>
          <dt>Workflow</dt>
          <dd>
            {s.workflowName} <span className="mono">{s.workflowVersionId}</span>
          </dd>
        </div>
        <div>
          <dt>When</dt>
          <dd>{specText(s)}</dd>
        </div>
        <div>
          <dt>Overlap</dt>
          <dd>{(OverlapPolicy[s.overlapPolicy] ?? "").toLowerCase().replace(/_/g, " ")}</dd>
        </div>
        <div>
          <dt>Shard</dt>
          <dd>{s.shard || <span className="muted">unsharded</span>}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            <Time t={s.createTime} />
          </dd>
        </div>
        <div>
          <dt>Id</dt>
          <dd className="mono">{s.id}</dd>
        </div>
      </dl>
      <div className="payloads">
        <section className="card" aria-labelledby="next-title">
          <h2 id="next-title">Next fire times</h2>
          {next.length === 0 ? (
            <p className="muted">None: {s.status === ScheduleStatus.PAUSED ? "the schedule is paused." : "no further occurrence."}</p>
          ) : (
            <ol>
              {next.map((t) => (
                <li key={t}>
                  <Time t={t} />
                </li>
              ))}
            </ol>
          )}
        </section>
        <section className="card" aria-labelledby="sinput-title">
          <h2 id="sinput-title">Input</h2>
          <JsonView value={valueJson(s.input)} label="schedule input" />
        </section>
      </div>
      <section className="card" aria-labelledby="occ-title">
        <h2 id="occ-title">Recent occurrences</h2>
        {runs.error ? <ErrorBox error={runs.error} /> : null}
        {runs.data && runs.data.length === 0 ? <p className="muted">It has not started a run yet.</p> : null}
        <ul className="plain">
          {(runs.data ?? []).map((r) => (
            <li key={r.id}>
              <Link to={`/runs/${r.id}`} className="mono">
                {shortId(r.id)}
              </Link>{" "}
              <Time t={r.createTime} /> <StatusBadge status={r.status} />
            </li>
          ))}
        </ul>
        <Link to={`/runs?schedule=${s.id}`}>All its runs</Link>
      </section>
      {action === "pause" || action === "resume" ? (
        <ConfirmDialog
          title={`${action === "pause" ? "Pause" : "Resume"} schedule ${s.name || shortId(s.id)}?`}
          confirmLabel={action === "pause" ? "Pause schedule" : "Resume schedule"}
          onClose={() => setAction(undefined)}
          onConfirm={async () => {
            const res = action === "pause" ? await schedulesApi.pauseSchedule({ scheduleId: s.id }) : await schedulesApi.resumeSchedule({ scheduleId: s.id });
            schedule.set(res.schedule!);
          }}
        >
          <p>{action === "pause" ? "It fires nothing until resumed." : "It fires again from its next occurrence."}</p>
        </ConfirmDialog>
      ) : null}
      {action === "delete" ? (
        <ConfirmDialog
          title={`Delete schedule ${s.name || shortId(s.id)}?`}
          confirmLabel="Delete schedule"
          danger
          onClose={() => setAction(undefined)}
          onConfirm={async () => {
            await schedulesApi.deleteSchedule({ scheduleId: s.id });
            navigate("/schedules");
          }}
        >
          <p>It fires no more. The runs it started stay.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
