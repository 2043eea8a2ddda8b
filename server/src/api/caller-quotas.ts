import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { LimitExceededError } from "../domain/errors.js";
import { defaultLimits, type Limits, limitVariables } from "../limits.js";
import { callerOf } from "./call-caller.js";

type Resource = "waits" | "streams";

/**
 * What callers hold at once on this server (held WaitForRunStatus calls, open lease streams and
 * sessions), counted per caller and in total, so no caller can hold the server's memory or its
 * store's attention alone.
 */
export class CallerQuotas {
  private readonly held = { waits: new Map<string, number>(), streams: new Map<string, number>() };
  private streamsTotal = 0;

  constructor(private readonly limits: Limits = defaultLimits) {}

  /** Takes one of `resource` for `caller`, or refuses with RESOURCE_EXHAUSTED; returns the release. */
  hold(resource: Resource, caller: string): () => void {
    const counts = this.held[resource];
    const mine = counts.get(caller) ?? 0;
    const perCaller = resource === "waits" ? "maxWaitsPerCaller" : "maxStreamsPerCaller";
    const subject = resource === "waits" ? "held_waits" : "open_streams";
    if (mine >= this.limits[perCaller]) {
      throw new LimitExceededError({ limit: limitVariables[perCaller], max: this.limits[perCaller], actual: mine + 1, subject });
    }
    if (resource === "streams" && this.streamsTotal >= this.limits.maxStreams) {
      throw new LimitExceededError({ limit: limitVariables.maxStreams, max: this.limits.maxStreams, actual: this.streamsTotal + 1, subject });
    }
    counts.set(caller, mine + 1);
    if (resource === "streams") this.streamsTotal++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (counts.get(caller) ?? 1) - 1;
      if (left === 0) counts.delete(caller);
      else counts.set(caller, left);
      if (resource === "streams") this.streamsTotal--;
    };
  }
}

/** The server's quotas; a handler used without a server (a unit test) counts against a fresh, default one. */
export const callerQuotasKey = createContextKey<CallerQuotas>(new CallerQuotas(), { description: "aiki caller quotas of the server" });

/** Takes one of `resource` for this call's caller; returns the release. */
export function holdForCaller(ctx: HandlerContext, resource: Resource): () => void {
  return ctx.values.get(callerQuotasKey).hold(resource, callerOf(ctx));
}
