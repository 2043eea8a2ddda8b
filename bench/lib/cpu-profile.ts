// Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function and by package/area,
// and inclusive time of selected frames.
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  busyMs: number;
  /** Self time by function, largest first. */
  functions: Array<{ name: string; where: string; selfMs: number }>;
  /** Self time by area (a package, node internals, GC, the app's own files), largest first. */
  areas: Array<{ area: string; selfMs: number }>;
  /** Inclusive time (at least once on the stack) by frame name (for functions named in `inclusive`). */
  inclusive: Array<{ name: string; totalMs: number }>;
}

export function areaOf(url: string, functionName: string): string {
  if (functionName === "(idle)") return "(idle)";
  if (functionName === "(garbage collector)") return "(gc)";
  if (functionName === "(program)") return "(program: native, not attributed)";
  if (url === "") return "(native/builtin)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const own = /\/work\/main\/([^/]+)\/(?:src\/)?([^/]+)/.exec(url);
  if (own) return `aiki ${own[1]}/${own[2]}`;
  return url;
}

/**
 * `window`: [from, to] in µs of CLOCK_MONOTONIC (process.hrtime in any process on the machine,
 * which is the clock V8 stamps samples with on Linux); samples outside are left out.
 */
export function summarizeProfile(file: string, options: { top?: number; inclusive?: string[]; window?: [number, number] } = {}): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  const [from, to] = options.window ?? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < from || at > to) continue;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const area = new Map<string, number>();
  const inclusiveNames = new Set(options.inclusive ?? []);
  const inclusive = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    totalUs += us;
    if (functionName === "(idle)") idleUs += us;
    const name = functionName || "(anonymous)";
    const where = `${url.replace(/^file:\/\/\/work\/main\//, "").replace(/^.*node_modules\//, "")}:${lineNumber + 1}`;
    const key = `${name}@${where}`;
    const entry = fn.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    fn.set(key, entry);
    const a = areaOf(url, functionName);
    area.set(a, (area.get(a) ?? 0) + us);
    if (inclusiveNames.size > 0) {
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const n = byId.get(at)!.callFrame.functionName;
        if (inclusiveNames.has(n) && !seen.has(n)) {
          seen.add(n);
          inclusive.set(n, (inclusive.get(n) ?? 0) + us);
        }
      }
    }
  }
  const ms = (us: number) => Math.round(us / 100) / 10;
  return {
    totalMs: ms(totalUs),
    idleMs: ms(idleUs),
    busyMs: ms(totalUs - idleUs),
    functions: [...fn.values()]
      .filter((f) => f.name !== "(idle)")
      .sort((a, b) => b.us - a.us)
      .slice(0, options.top ?? 30)
      .map((f) => ({ name: f.name, where: f.where, selfMs: ms(f.us) })),
    areas: [...area.entries()]
      .filter(([a]) => a !== "(idle)")
      .sort((a, b) => b[1] - a[1])
      .map(([a, us]) => ({ area: a, selfMs: ms(us) })),
    inclusive: [...inclusive.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, totalMs: ms(us) })),
  };
}
