import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { UsageError } from "./cli-error.js";

/** Every status by its short name: "queued", "awaiting_event", … */
const byName = new Map<string, RunStatus>(
  Object.entries(RunStatus)
    .filter((e): e is [string, RunStatus] => typeof e[1] === "number" && e[1] !== RunStatus.UNSPECIFIED)
    .map(([name, value]) => [name.toLowerCase(), value]),
);

export const statusNames: readonly string[] = [...byName.keys()];

/** "completed", "COMPLETED", "RUN_STATUS_COMPLETED" and "awaiting-event" all name a status. */
export function parseRunStatus(text: string, option: string): RunStatus {
  const key = text
    .trim()
    .toLowerCase()
    .replace(/^run_status_/, "")
    .replaceAll("-", "_");
  const status = byName.get(key);
  if (status === undefined) throw new UsageError(`${option}: unknown run status "${text}" (one of ${statusNames.join(", ")})`);
  return status;
}

/** Repeated and comma-separated: --status queued,running --status paused. */
export function parseRunStatuses(values: readonly string[] | undefined, option: string): RunStatus[] {
  return (values ?? [])
    .flatMap((v) => v.split(","))
    .filter((v) => v.trim() !== "")
    .map((v) => parseRunStatus(v, option));
}

export function statusName(status: RunStatus): string {
  return status === RunStatus.UNSPECIFIED ? "-" : (RunStatus[status] ?? String(status)).toLowerCase();
}
