import type { Figure } from "./emit.js";

/** What a workload may read of the round it runs in: the figures printed before it. */
export class RoundContext {
  readonly figures: Figure[] = [];

  constructor(readonly round: number) {}

  /** The latest figure of this round with that workload and metric. */
  latest(workload: string, metric: string): Figure | undefined {
    return this.figures.findLast((f) => f.workload === workload && f.metric === metric);
  }
}
