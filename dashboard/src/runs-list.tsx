// The runs list: filters kept in the URL, a count per status, keyset paging as the user scrolls,
// a virtualised table (only the visible rows are in the DOM), and live updates: rows change in
// place, new runs wait behind an "N new" banner so nothing moves under the cursor. With write
// access, rows can be selected for a bulk action (bulk-actions.tsx), or every run the filter matches.
import { Code } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type FormEvent, type RefObject, useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Run, RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import type { CountRunsResponse, ListWorkflowsResponse } from "@aiki/gen/aiki/v1/run_service_pb";
import { useAccess } from "./access.js";
import { isCode, runsApi } from "./api.js";
import { type BulkActionKind, BulkDialog, type BulkSelection, bulkActionOrder, bulkActions } from "./bulk-actions.js";
import { allStatuses, ms, shortId, statusFromKey, statusKey, statusLabel } from "./format.js";
import { useLive } from "./live.js";
import { Link, navigate, useLocation } from "./router.js";
import { Empty, ErrorBox, Field, LiveIndicator, StatusBadge, Time, useLoad } from "./ui.js";

// The virtual list's stand-in for rows out of view: hidden from assistive technology, which reads
// the rows' aria-rowindex instead. (A tr is not focusable; the rule cannot tell.)
// biome-ignore lint/a11y/noAriaHiddenOnFocusable: a spacer row, not focusable
const spacerRow = (height: number) => <tr aria-hidden="true" style={{ height }} />;

// The first page is small so the list shows fast; scrolling fetches bigger pages.
const firstPageSize = 100;
const pageSize = 500;
const rowHeight = 37;
const overscan = 10;

interface Filter {
  workflowName: string;
  workflowVersionId: string;
  statuses: RunStatus[];
  referenceId: string;
  runIds: string[];
  parentRunId: string;
  scheduleId: string;
  from: string;
  to: string;
  /** Every one must be on a run (key and value equal). */
  tags: [string, string][];
}

const textKeys = {
  workflow: "workflowName",
  version: "workflowVersionId",
  ref: "referenceId",
  parent: "parentRunId",
  schedule: "scheduleId",
  from: "from",
  to: "to",
} as const;

export function filterFromQuery(q: URLSearchParams): Filter {
  const list = (k: string) =>
    (q.get(k) ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  return {
    workflowName: q.get("workflow") ?? "",
    workflowVersionId: q.get("version") ?? "",
    statuses: list("status")
      .map(statusFromKey)
      .filter((s): s is RunStatus => s !== undefined),
    referenceId: q.get("ref") ?? "",
    runIds: list("run"),
    parentRunId: q.get("parent") ?? "",
    scheduleId: q.get("schedule") ?? "",
    from: q.get("from") ?? "",
    to: q.get("to") ?? "",
    tags: q
      .getAll("tag")
      .map(parseTag)
      .filter((t): t is [string, string] => t !== undefined),
  };
}

/** "key=value" (the value may hold "="); undefined without a key. */
function parseTag(text: string): [string, string] | undefined {
  const at = text.indexOf("=");
  const key = (at < 0 ? text : text.slice(0, at)).trim();
  return key ? [key, at < 0 ? "" : text.slice(at + 1).trim()] : undefined;
}

function queryFromFilter(f: Filter): string {
  const q = new URLSearchParams();
  if (f.statuses.length) q.set("status", f.statuses.map(statusKey).join(","));
  for (const [k, field] of Object.entries(textKeys)) if (f[field]) q.set(k, f[field]);
  if (f.runIds.length) q.set("run", f.runIds.join(","));
  // One parameter per tag: a value may hold commas.
  for (const [k, v] of f.tags) q.append("tag", `${k}=${v}`);
  const s = q.toString();
  return s ? `/runs?${s}` : "/runs";
}

/** The request fields ListRuns, CountRuns and WatchRuns share; statuses only when asked. */
function apiFilter(f: Filter, withStatuses: boolean) {
  const time = (v: string) => {
    const t = v ? new Date(v).getTime() : Number.NaN;
    return Number.isNaN(t) ? undefined : timestampFromMs(t);
  };
  return {
    workflowName: f.workflowName,
    workflowVersionId: f.workflowVersionId,
    statuses: withStatuses ? f.statuses : [],
    referenceId: f.referenceId,
    runIds: f.runIds,
    parentRunId: f.parentRunId,
    scheduleId: f.scheduleId,
    createTimeFrom: time(f.from),
    createTimeTo: time(f.to),
    tags: Object.fromEntries(f.tags),
  };
}

interface Rows {
  runs: Run[];
  nextPageToken: string;
}

export function RunsList() {
  const { query } = useLocation();
  const key = query.toString();
  const filter = useMemo(() => filterFromQuery(query), [key]);
  const setFilter = (f: Filter) => navigate(queryFromFilter(f), { replace: true });

  const [rows, setRows] = useState<Rows>({ runs: [], nextPageToken: "" });
  const [loadError, setLoadError] = useState<unknown>();
  const [loaded, setLoaded] = useState(false);
  const [loadingMore, setLoadingMore] = useState(false);
  const [pending, setPending] = useState<Set<string>>(new Set());
  const rowsRef = useRef(rows);
  rowsRef.current = rows;
  const visibleIds = useRef<string[]>([]);
  const access = useAccess();
  // The rows picked for a bulk action, or every run the filter matches ("all"); a new filter clears it.
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [allMatching, setAllMatching] = useState(false);
  const [bulk, setBulk] = useState<BulkActionKind | undefined>();
  useEffect(() => {
    setSelected(new Set());
    setAllMatching(false);
  }, [key]);

  const loadFirst = useCallback(async () => {
    try {
      const res = await runsApi.listRuns({ ...apiFilter(filter, true), pageSize: firstPageSize });
      // A live update that arrived while this page was being read is newer than the page.
      setRows((r) => {
        const shown = new Map(r.runs.map((x) => [x.id, x]));
        const runs = res.runs.map((x) => {
          const have = shown.get(x.id);
          return have && have.revision > x.revision ? have : x;
        });
        return { runs, nextPageToken: res.nextPageToken };
      });
      setPending(new Set());
      setLoadError(undefined);
    } catch (error) {
      setLoadError(error);
    } finally {
      setLoaded(true);
    }
  }, [filter]);

  useEffect(() => {
    setLoaded(false);
    setRows({ runs: [], nextPageToken: "" });
    void loadFirst();
  }, [loadFirst]);

  const loadMore = async () => {
    const token = rowsRef.current.nextPageToken;
    if (!token || loadingMore) return;
    setLoadingMore(true);
    try {
      const res = await runsApi.listRuns({ ...apiFilter(filter, true), pageSize, pageToken: token });
      setRows((r) => {
        const seen = new Set(r.runs.map((x) => x.id));
        return { runs: [...r.runs, ...res.runs.filter((x) => !seen.has(x.id))], nextPageToken: res.nextPageToken };
      });
    } catch (error) {
      setLoadError(error);
    } finally {
      setLoadingMore(false);
    }
  };

  const counts = useLoad<CountRunsResponse | "unavailable">(async () => {
    try {
      return await runsApi.countRuns({ filter: apiFilter(filter, false) });
    } catch (error) {
      if (isCode(error, Code.Unimplemented)) return "unavailable";
      throw error;
    }
  }, [filter]);
  const countTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const recount = () => {
    if (countTimer.current) return;
    countTimer.current = setTimeout(() => {
      countTimer.current = undefined;
      void counts.reload();
    }, 300);
  };
  useEffect(() => () => clearTimeout(countTimer.current), []);

  /** Changed runs from the stream or a poll: visible rows change in place, the rest wait as "new". */
  const merge = (changed: Run[]) => {
    if (changed.length === 0) return;
    const statusOk = (r: Run) => filter.statuses.length === 0 || filter.statuses.includes(r.status);
    const current = rowsRef.current;
    const byId = new Map(current.runs.map((r) => [r.id, r]));
    const oldest = current.runs.length ? (ms(current.runs[current.runs.length - 1]!.createTime) ?? 0) : 0;
    const fresh: string[] = [];
    let updated = false;
    for (const run of changed) {
      const have = byId.get(run.id);
      if (have) {
        if (run.revision >= have.revision) {
          byId.set(run.id, run);
          updated = true;
        }
      } else if (statusOk(run) && (!current.nextPageToken || (ms(run.createTime) ?? 0) >= oldest)) {
        fresh.push(run.id);
      }
    }
    if (updated) {
      setRows((r) => ({
        ...r,
        runs: r.runs.map((x) => {
          const n = byId.get(x.id);
          return n && n.revision >= x.revision ? n : x;
        }),
      }));
    }
    if (fresh.length) setPending((p) => new Set([...p, ...fresh]));
    recount();
  };

  const mode = useLive(
    {
      open: (signal) => runsApi.watchRuns({ filter: apiFilter(filter, false) }, { signal }),
      onMessage: (m, first) => {
        // A (re)opened stream may have missed changes: read the page again.
        if (first) void loadFirst();
        merge(m.runs);
      },
      poll: async () => {
        const [page, visible] = await Promise.all([
          runsApi.listRuns({ ...apiFilter(filter, true), pageSize: 100 }),
          visibleIds.current.length ? runsApi.listRuns({ runIds: visibleIds.current.slice(0, 100), pageSize: 100 }) : undefined,
        ]);
        merge([...page.runs, ...(visible?.runs ?? [])]);
      },
    },
    [filter],
  );

  const showPending = () => void loadFirst();

  // What the status chips count for this filter: the chosen statuses' sum, or every status.
  const matchingCount =
    counts.data && counts.data !== "unavailable"
      ? filter.statuses.length
        ? counts.data.counts.filter((c) => filter.statuses.includes(c.status)).reduce((n, c) => n + c.count, 0n)
        : counts.data.total
      : undefined;
  const selection: BulkSelection = allMatching ? { case: "filter", value: apiFilter(filter, true) } : { case: "runIds", value: { ids: [...selected] } };
  const scope = allMatching
    ? `all ${matchingCount === undefined ? "" : `${matchingCount} `}runs matching this filter`
    : `the ${selected.size} selected ${selected.size === 1 ? "run" : "runs"}`;
  const clearSelection = () => {
    setSelected(new Set());
    setAllMatching(false);
  };

  // "/" jumps to the filters, as in most list views; typing in a field is left alone.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey || target?.closest("input, textarea, select, [contenteditable]")) return;
      const field = document.querySelector<HTMLInputElement>('.filters input[name="workflow"]');
      if (!field) return;
      e.preventDefault();
      field.focus();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  return (
    <section aria-labelledby="runs-title">
      <div className="page-head">
        <h1 id="runs-title">Runs</h1>
        <LiveIndicator mode={mode} />
        <span className="muted hint">
          <kbd>/</kbd> filters
        </span>
      </div>
      <StatusChips filter={filter} counts={counts.data} setFilter={setFilter} />
      <Filters filter={filter} setFilter={setFilter} />
      {pending.size > 0 ? (
        <button type="button" className="new-banner" onClick={showPending}>
          {pending.size} new {pending.size === 1 ? "run" : "runs"} · show
        </button>
      ) : null}
      {loadError ? (
        <ErrorBox
          error={loadError}
          action={
            <button type="button" onClick={() => void loadFirst()}>
              Try again
            </button>
          }
        />
      ) : null}
      {loaded && !loadError && rows.runs.length === 0 ? (
        <Empty title={hasFilter(filter) ? "No runs match these filters." : "No runs yet."}>
          {hasFilter(filter) ? (
            <p>
              <Link to="/runs">Clear the filters</Link> or widen them.
            </p>
          ) : (
            <p>
              Start one from <Link to="/start">Start run</Link>, from your code (<code>version.start(client, input)</code>), or with{" "}
              <code>npx aiki runs start</code>. It shows up here at once.
            </p>
          )}
        </Empty>
      ) : null}
      {access.canWrite && (selected.size > 0 || allMatching) ? (
        <div className="bulk-bar" role="toolbar" aria-label="Bulk actions">
          <span className="bulk-scope" data-scope={allMatching ? "filter" : "selected"}>
            {allMatching ? (
              <strong>All {matchingCount === undefined ? "" : `${matchingCount} `}runs matching this filter</strong>
            ) : (
              <strong>{selected.size} selected</strong>
            )}
          </span>
          {allMatching ? (
            <button type="button" className="link" onClick={() => setAllMatching(false)}>
              Only the {selected.size} selected
            </button>
          ) : (
            <button type="button" className="link" onClick={() => setAllMatching(true)}>
              Select all {matchingCount === undefined ? "" : `${matchingCount} `}matching this filter
            </button>
          )}
          {bulkActionOrder.map((k) => (
            <button key={k} type="button" className={bulkActions[k].danger ? "danger" : undefined} onClick={() => setBulk(k)}>
              {k === "rerun" ? "Rerun from last failure…" : `${bulkActions[k].label}…`}
            </button>
          ))}
          <button type="button" onClick={clearSelection}>
            Clear selection
          </button>
        </div>
      ) : null}
      {rows.runs.length > 0 ? (
        <RunTable
          runs={rows.runs}
          hasMore={rows.nextPageToken !== ""}
          loadingMore={loadingMore}
          loadMore={loadMore}
          visibleIds={visibleIds}
          selectable={access.canWrite}
          selected={selected}
          setSelected={(next) => {
            setSelected(next);
            if (next.size === 0) setAllMatching(false);
          }}
          onTag={(k, v) => setFilter({ ...filter, tags: [...filter.tags.filter(([x]) => x !== k), [k, v]] })}
        />
      ) : null}
      {bulk ? (
        <BulkDialog
          kind={bulk}
          selection={selection}
          scope={scope}
          onClose={(started) => {
            setBulk(undefined);
            if (started) {
              clearSelection();
              void loadFirst();
            }
          }}
        />
      ) : null}
      {!loaded ? <p className="muted">Loading runs…</p> : null}
    </section>
  );
}

function hasFilter(f: Filter): boolean {
  return queryFromFilter(f) !== "/runs";
}

function StatusChips({ filter, counts, setFilter }: { filter: Filter; counts: CountRunsResponse | "unavailable" | undefined; setFilter: (f: Filter) => void }) {
  const countOf = (s: RunStatus) => (counts && counts !== "unavailable" ? Number(counts.counts.find((c) => c.status === s)?.count ?? 0) : undefined);
  const toggle = (s: RunStatus) =>
    setFilter({ ...filter, statuses: filter.statuses.includes(s) ? filter.statuses.filter((x) => x !== s) : [...filter.statuses, s] });
  return (
    <div className="chips" role="group" aria-label="Filter by status">
      <button type="button" aria-pressed={filter.statuses.length === 0} onClick={() => setFilter({ ...filter, statuses: [] })}>
        All{counts && counts !== "unavailable" ? <span className="count">{Number(counts.total)}</span> : null}
      </button>
      {allStatuses.map((s) => {
        const n = countOf(s);
        return (
          <button key={s} type="button" aria-pressed={filter.statuses.includes(s)} onClick={() => toggle(s)} data-chip={statusKey(s)}>
            {statusLabel(s)}
            {n !== undefined ? <span className="count">{n}</span> : null}
          </button>
        );
      })}
    </div>
  );
}

function Filters({ filter, setFilter }: { filter: Filter; setFilter: (f: Filter) => void }) {
  const workflows = useLoad<ListWorkflowsResponse | undefined>(async () => {
    try {
      return await runsApi.listWorkflows({});
    } catch {
      return undefined; // the pickers fall back to free text
    }
  }, []);
  const [workflow, setWorkflow] = useState(filter.workflowName);
  useEffect(() => setWorkflow(filter.workflowName), [filter.workflowName]);
  const names = [...new Set((workflows.data?.workflows ?? []).map((w) => w.workflowName))];
  const versions = (workflows.data?.workflows ?? []).filter((w) => !workflow || w.workflowName === workflow).map((w) => w.workflowVersionId);
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const d = new FormData(e.currentTarget);
    const text = (k: string) => String(d.get(k) ?? "").trim();
    setFilter({
      statuses: filter.statuses,
      workflowName: text("workflow"),
      workflowVersionId: text("version"),
      referenceId: text("ref"),
      runIds: text("run")
        .split(/[\s,]+/)
        .filter(Boolean),
      parentRunId: text("parent"),
      scheduleId: text("schedule"),
      from: text("from"),
      to: text("to"),
      tags: text("tag")
        .split(",")
        .map(parseTag)
        .filter((t): t is [string, string] => t !== undefined),
    });
  };
  return (
    <form className="filters" onSubmit={submit} key={queryFromFilter(filter)} aria-label="Run filters">
      <Field label="Workflow">
        <input name="workflow" list="wf-names" defaultValue={filter.workflowName} onChange={(e) => setWorkflow(e.target.value)} />
      </Field>
      <datalist id="wf-names">
        {names.map((n) => (
          <option key={n} value={n} />
        ))}
      </datalist>
      <Field label="Version">
        <input name="version" list="wf-versions" defaultValue={filter.workflowVersionId} />
      </Field>
      <datalist id="wf-versions">
        {[...new Set(versions)].map((v) => (
          <option key={v} value={v} />
        ))}
      </datalist>
      <Field label="Reference id">
        <input name="ref" defaultValue={filter.referenceId} />
      </Field>
      <Field label="Run ids">
        <input name="run" defaultValue={filter.runIds.join(", ")} placeholder="id, id…" />
      </Field>
      <Field label="Parent run">
        <input name="parent" defaultValue={filter.parentRunId} />
      </Field>
      <Field label="Schedule">
        <input name="schedule" defaultValue={filter.scheduleId} />
      </Field>
      <Field label="Tags">
        <input
          name="tag"
          defaultValue={filter.tags.map(([k, v]) => `${k}=${v}`).join(", ")}
          placeholder="key=value, …"
          title="key=value, comma separated; a run must carry every one"
        />
      </Field>
      <Field label="Created from">
        <input name="from" type="datetime-local" step="1" defaultValue={filter.from} />
      </Field>
      <Field label="Created before">
        <input name="to" type="datetime-local" step="1" defaultValue={filter.to} />
      </Field>
      <div className="filter-buttons">
        <button type="submit" className="primary">
          Apply
        </button>
        <button type="button" onClick={() => navigate("/runs", { replace: true })}>
          Clear
        </button>
      </div>
    </form>
  );
}

function RunTable({
  runs,
  hasMore,
  loadingMore,
  loadMore,
  visibleIds,
  selectable,
  selected,
  setSelected,
  onTag,
}: {
  runs: Run[];
  hasMore: boolean;
  loadingMore: boolean;
  loadMore: () => Promise<void>;
  visibleIds: RefObject<string[]>;
  selectable: boolean;
  selected: Set<string>;
  setSelected: (ids: Set<string>) => void;
  onTag: (key: string, value: string) => void;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 800 });
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const first = Math.max(0, Math.floor(view.top / rowHeight) - overscan);
  const last = Math.min(runs.length, Math.ceil((view.top + view.height) / rowHeight) + overscan);
  const shown = runs.slice(first, last);
  visibleIds.current = shown.map((r) => r.id);
  useEffect(() => {
    if (hasMore && !loadingMore && last >= runs.length - overscan) void loadMore();
  }, [hasMore, loadingMore, last, runs.length]);
  const allLoaded = selected.size > 0 && runs.every((r) => selected.has(r.id));
  const someLoaded = selected.size > 0 && !allLoaded;
  const headBox = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (headBox.current) headBox.current.indeterminate = someLoaded;
  }, [someLoaded]);
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (!next.delete(id)) next.add(id);
    setSelected(next);
  };

  return (
    <div
      className="table-scroll"
      ref={scroller}
      onScroll={(e) => setView({ top: e.currentTarget.scrollTop, height: e.currentTarget.clientHeight })}
      tabIndex={-1}
    >
      <table className="runs" aria-rowcount={runs.length + 1}>
        <colgroup>
          {selectable ? <col style={{ width: "2.6rem" }} /> : null}
          <col style={{ width: "9rem" }} />
          <col />
          <col style={{ width: "7rem" }} />
          <col style={{ width: "11rem" }} />
          <col />
          <col style={{ width: "15.5rem" }} />
          <col style={{ width: "10rem" }} />
          <col style={{ width: "12rem" }} />
        </colgroup>
        <thead>
          <tr>
            {selectable ? (
              <th scope="col" className="select">
                <input
                  ref={headBox}
                  type="checkbox"
                  aria-label={allLoaded ? "Clear the selection" : `Select the ${runs.length} loaded runs`}
                  checked={allLoaded}
                  onChange={() => setSelected(allLoaded ? new Set() : new Set(runs.map((r) => r.id)))}
                />
              </th>
            ) : null}
            <th scope="col">Run</th>
            <th scope="col">Workflow</th>
            <th scope="col">Version</th>
            <th scope="col">Status</th>
            <th scope="col">Reason</th>
            <th scope="col">Created</th>
            <th scope="col">Reference id</th>
            <th scope="col">Tags</th>
          </tr>
        </thead>
        <tbody>
          {first > 0 ? spacerRow(first * rowHeight) : null}
          {shown.map((r, i) => (
            <tr
              key={r.id}
              data-run-id={r.id}
              aria-rowindex={first + i + 2}
              aria-selected={selectable ? selected.has(r.id) : undefined}
              style={{ height: rowHeight }}
            >
              {selectable ? (
                <td className="select">
                  <input type="checkbox" aria-label={`Select run ${shortId(r.id)}`} checked={selected.has(r.id)} onChange={() => toggle(r.id)} />
                </td>
              ) : null}
              <td>
                <Link to={`/runs/${r.id}`} className="mono" title={r.id}>
                  {shortId(r.id)}
                </Link>
              </td>
              <td className="ellipsis">{r.workflowName}</td>
              <td className="ellipsis mono">{r.workflowVersionId}</td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td className="ellipsis">{r.statusReason}</td>
              <td>
                <Time t={r.createTime} />
              </td>
              <td className="ellipsis">{r.referenceId}</td>
              <td className="ellipsis tags-cell">
                {Object.entries(r.tags).map(([k, v]) => (
                  <button key={k} type="button" className="tag-chip" title={`Filter by ${k}=${v}`} onClick={() => onTag(k, v)}>
                    {k}={v}
                  </button>
                ))}
              </td>
            </tr>
          ))}
          {last < runs.length ? spacerRow((runs.length - last) * rowHeight) : null}
        </tbody>
      </table>
      <div className="table-foot">
        {runs.length} loaded
        {hasMore ? (
          <button type="button" onClick={() => void loadMore()} disabled={loadingMore}>
            {loadingMore ? "Loading…" : "Load more"}
          </button>
        ) : (
          <span className="muted"> · end of list</span>
        )}
      </div>
    </div>
  );
}
