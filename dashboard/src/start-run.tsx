// Start a run: a workflow/version picker fed by ListWorkflows, a JSON input and a reference id.
// "Start again with this input" on a run page opens this form filled in.
import { type FormEvent, useState } from "react";
import type { ListWorkflowsResponse } from "@aiki/gen/aiki/v1/run_service_pb";
import { errorText, runsApi } from "./api.js";
import { useAccess } from "./access.js";
import { parseJsonInput, shortId, toValue } from "./format.js";
import { Link, navigate, useLocation } from "./router.js";
import { Empty, Field, JsonTextarea, useLoad } from "./ui.js";

export function StartRun() {
  const { query } = useLocation();
  const access = useAccess();
  const workflows = useLoad<ListWorkflowsResponse | undefined>(async () => {
    try {
      return await runsApi.listWorkflows({});
    } catch {
      return undefined; // free text instead of a picker
    }
  }, []);
  const [workflow, setWorkflow] = useState(query.get("workflow") ?? "");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const known = workflows.data?.workflows ?? [];
  const names = [...new Set(known.map((w) => w.workflowName))];
  const versions = known.filter((w) => w.workflowName === workflow).map((w) => w.workflowVersionId);
  const from = query.get("from");

  if (access.state === "checking") return <p className="muted">Checking your API key…</p>;
  if (access.state === "key-needed") {
    return (
      <Empty title="This server needs an API key.">
        <p>Enter a key with the client scope above to start runs.</p>
      </Empty>
    );
  }
  if (!access.canWrite) {
    return (
      <Empty title="Your API key is read-only.">
        <p>Starting runs needs a key with the client scope.</p>
      </Empty>
    );
  }

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setError(undefined);
    setBusy(true);
    try {
      const input = parseJsonInput(String(f.get("input") ?? ""));
      const res = await runsApi.startRun({
        workflowName: String(f.get("workflow") ?? "").trim(),
        workflowVersionId: String(f.get("version") ?? "").trim(),
        ...(input === undefined ? {} : { input: toValue(input) }),
        referenceId: String(f.get("reference") ?? "").trim(),
      });
      navigate(`/runs/${res.run!.id}`);
    } catch (err) {
      setError(err instanceof Error && !("code" in err) ? err.message : errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="start-title">
      <h1 id="start-title">Start a run</h1>
      {from ? (
        <p>
          With the input of run{" "}
          <Link to={`/runs/${from}`} className="mono">
            {shortId(from)}
          </Link>
          .
        </p>
      ) : null}
      <form className="card form" onSubmit={submit}>
        <Field label="Workflow" hint={names.length ? undefined : "No workflow is known yet: type its name as the worker declares it."}>
          <input name="workflow" list="start-names" required value={workflow} onChange={(e) => setWorkflow(e.target.value)} />
        </Field>
        <datalist id="start-names">
          {names.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <Field label="Version">
          <input name="version" list="start-versions" required defaultValue={query.get("version") ?? versions[0] ?? ""} key={versions[0] ?? ""} />
        </Field>
        <datalist id="start-versions">
          {versions.map((v) => (
            <option key={v} value={v} />
          ))}
        </datalist>
        <Field label="Input (JSON)" hint="Empty means no input.">
          <JsonTextarea name="input" rows={10} defaultValue={query.get("input") ?? ""} />
        </Field>
        <Field label="Reference id (optional)" hint="Unique per workflow version: starting the same reference id again returns the existing run.">
          <input name="reference" />
        </Field>
        {error ? (
          <p className="error-box" role="alert">
            {error}
          </p>
        ) : null}
        <div className="buttons">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Starting…" : "Start run"}
          </button>
        </div>
      </form>
    </section>
  );
}
