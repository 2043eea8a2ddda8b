/** One benchmark figure, printed as a JSON line as docs/benchmarks.md asks. */
export interface Figure {
  system: "aiki";
  workload: string;
  metric: string;
  value: number;
  params: Record<string, unknown>;
}

/** `digits`: decimals kept (2; ratios below 1 need more). */
export function emit(workload: string, metric: string, value: number, params: Record<string, unknown> = {}, digits = 2): Figure {
  const scale = 10 ** digits;
  const figure: Figure = { system: "aiki", workload, metric, value: Math.round(value * scale) / scale, params };
  console.log(JSON.stringify(figure));
  return figure;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

/** Like envInt, but 0 is allowed (counts of warm-ups). */
export function envCount(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}
