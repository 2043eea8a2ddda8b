// The app shell: navigation and the page for the current path.
import { StrictMode, useEffect, useRef } from "react";
import { createRoot } from "react-dom/client";
import { AccessProvider, useAccess } from "./access.js";
import { BatchDetail, Batches } from "./batches.js";
import { Link, useLocation } from "./router.js";
import { RunPage } from "./run-page.js";
import { RunsList } from "./runs-list.js";
import { ScheduleDetail, Schedules } from "./schedules.js";
import { StartRun } from "./start-run.js";
import { Empty } from "./ui.js";
import { Workers } from "./workers.js";
import "./styles.css";

function Page({ path }: { path: string }) {
  if (path === "/" || path === "/runs") return <RunsList />;
  const run = /^\/runs\/([^/]+)$/.exec(path);
  if (run) return <RunPage key={run[1]} runId={decodeURIComponent(run[1]!)} />;
  if (path === "/schedules") return <Schedules />;
  const schedule = /^\/schedules\/([^/]+)$/.exec(path);
  if (schedule) return <ScheduleDetail key={schedule[1]} id={decodeURIComponent(schedule[1]!)} />;
  if (path === "/workers") return <Workers />;
  if (path === "/batches") return <Batches />;
  const batch = /^\/batches\/([^/]+)$/.exec(path);
  if (batch) return <BatchDetail key={batch[1]} id={decodeURIComponent(batch[1]!)} />;
  if (path === "/start") return <StartRun />;
  return (
    <Empty title="There is no page here.">
      <p>
        <Link to="/runs">Go to the runs</Link>
      </p>
    </Empty>
  );
}

function Shell() {
  const { path } = useLocation();
  const access = useAccess();
  const main = useRef<HTMLElement>(null);
  const section = path.split("/")[1] || "runs";
  // A new page moves focus to its content, as a page load would (screen readers announce it).
  useEffect(() => {
    main.current?.focus({ preventScroll: true });
  }, [path]);
  const nav = [
    { to: "/runs", label: "Runs", key: "runs" },
    { to: "/schedules", label: "Schedules", key: "schedules" },
    { to: "/workers", label: "Workers", key: "workers" },
    { to: "/batches", label: "Batches", key: "batches" },
    ...(access.canWrite ? [{ to: "/start", label: "Start run", key: "start" }] : []),
  ];
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/runs" className="brand">
          Aiki
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.key}>
                <Link to={n.to} aria-current={section === n.key ? "page" : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Page path={path} />
      </main>
    </>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <AccessProvider>
      <Shell />
    </AccessProvider>
  </StrictMode>,
);
