import { Redis, type RedisOptions as IORedisOptions } from "ioredis";
import type { RedisOptions } from "@aiki/sdk";
import { abortableDelay, Backoff, clientInternals, readyChannel } from "@aiki/sdk/internal";
import { type LeaseSource, longPoll, pollOnce, type WorkerSlots } from "./lease-source.js";

// How long a starting worker waits for its first subscription before it long-polls instead.
const firstSubscriptionWaitMs = 2_000;

/**
 * Leases on Redis hints (`subscriber: { type: "redis" }`): the worker subscribes to the ready
 * channels of its versions and shards, and on a hint asks the server for leases without waiting
 * (PollLeases, wait 0, up to its free slots). It also asks every `safetyPollIntervalMs`, so a
 * lost hint costs latency, never work. While Redis is unreachable it long-polls the server (which
 * wakes polls by its own notifier) and goes back to hints once it has resubscribed.
 */
export class RedisLeaseSource implements LeaseSource {
  private channels: string[] = [];
  private readonly safetyPollIntervalMs: number;
  // Set by a hint (or a safety tick, a resubscription, a full batch): poll before waiting again.
  private hinted = true;
  private subscribed = false;
  private closed = false;
  private wake: () => void = () => {};

  constructor(
    private readonly slots: WorkerSlots,
    private readonly redisOptions: RedisOptions,
  ) {
    const subscriber = slots.options.subscriber;
    this.safetyPollIntervalMs = subscriber.type === "redis" ? subscriber.safetyPollIntervalMs : 5_000;
  }

  async run(signal: AbortSignal): Promise<void> {
    // Channels are per namespace, and the namespace is the API key's: ask the server which.
    const namespace = await this.namespace(signal);
    if (namespace === undefined) return;
    const shards = this.slots.options.shards.length > 0 ? this.slots.options.shards : [""];
    this.channels = [...this.slots.options.versions.values()].flatMap((v) => shards.map((shard) => readyChannel(v.name, v.versionId, shard, namespace)));
    const redis = this.connect();
    try {
      // Give Redis a moment to answer first, rather than start on the long-poll meant for outages.
      await this.waitForHint(signal, firstSubscriptionWaitMs);
      await this.loop(signal);
    } finally {
      this.closed = true;
      // QUIT, so Redis has dropped the subscriptions when stop() returns; a Redis that does not
      // answer in time is simply cut off.
      if (redis.status === "ready") {
        const quitWait = new AbortController();
        await Promise.race([redis.quit().catch(() => {}), abortableDelay(1_000, quitWait.signal)]);
        quitWait.abort();
      }
      redis.disconnect();
    }
  }

  /** The client's namespace, asked until the server answers; undefined once the signal aborts. */
  private async namespace(signal: AbortSignal): Promise<string | undefined> {
    const backoff = new Backoff(100, 2_000);
    while (!signal.aborted) {
      try {
        return await clientInternals(this.slots.client).namespace();
      } catch (error) {
        this.slots.logger.warn("could not learn the API key's namespace; asking again", { err: (error as Error).message });
        await backoff.wait(signal);
      }
    }
    return undefined;
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const { slots } = this;
    const backoff = new Backoff(100, 2_000);
    while (!signal.aborted) {
      const free = slots.free();
      if (free <= 0) {
        await slots.slotFreed(signal);
        continue;
      }
      if (!this.subscribed) {
        // Redis is away: the server's long-poll is the fastest way to hear of work meanwhile.
        // One call at a time, so the worker is back on hints within one poll wait.
        if ((await longPoll(slots, signal, Date.now() + slots.options.pollWaitMs)) === "stopped") return;
        continue;
      }
      if (!this.hinted) await this.waitForHint(signal);
      if (signal.aborted || !this.subscribed) continue;
      this.hinted = false;
      const max = Math.min(slots.free(), 1000);
      if (max <= 0) continue;
      const result = await pollOnce(slots, max, 0, signal);
      if (result.kind === "stopped") return;
      if (result.kind === "failed") {
        this.hinted = true;
        await backoff.wait(signal);
        continue;
      }
      backoff.reset();
      for (const lease of result.leases) slots.accept(lease);
      // A full batch: more may be ready; ask again as soon as a slot is free.
      if (result.leases.length >= max) this.hinted = true;
    }
  }

  /** Resolves on a hint, when the safety interval passes (a safety poll), when Redis goes away, or on abort. */
  private async waitForHint(signal: AbortSignal, ms = this.safetyPollIntervalMs): Promise<void> {
    const woken = new AbortController();
    this.wake = () => woken.abort();
    const stop = () => woken.abort();
    signal.addEventListener("abort", stop, { once: true });
    try {
      await abortableDelay(ms, woken.signal);
    } finally {
      signal.removeEventListener("abort", stop);
      this.wake = () => {};
    }
  }

  private hint(): void {
    this.hinted = true;
    this.wake();
  }

  private connect(): Redis {
    const { slots } = this;
    const { url, host, port, password, db } = this.redisOptions;
    const options: IORedisOptions = {
      // Subscriptions are (re)made on every "ready" below; nothing is worth queueing meanwhile.
      autoResubscribe: false,
      // Shows in CLIENT LIST which connection is which worker's.
      connectionName: `aiki-worker:${slots.workerId}`,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt: number) => Math.min(100 * attempt, 2_000),
      ...(password !== undefined && { password }),
      ...(db !== undefined && { db }),
    };
    const redis = url ? new Redis(url, options) : new Redis({ ...options, ...(host !== undefined && { host }), ...(port !== undefined && { port }) });
    // Said once per outage, not once per reconnect attempt.
    let reported = false;
    const lost = (error?: Error) => {
      this.subscribed = false;
      if (this.closed) return;
      if (!reported) {
        reported = true;
        slots.logger.warn("Redis is unreachable; taking work by polling the server until it is back", {
          ...(error && { err: error.message }),
        });
      }
      this.wake();
    };
    redis.on("error", (error: Error) => {
      if (redis.status === "ready") slots.logger.debug("Redis error", { err: error.message });
      else lost(error);
    });
    redis.on("close", () => {
      if (this.subscribed) lost();
    });
    redis.on("message", () => this.hint());
    redis.on("ready", () => {
      redis.subscribe(...this.channels).then(
        () => {
          if (reported) slots.logger.info("Redis is reachable again; taking work on its hints");
          reported = false;
          this.subscribed = true;
          // Hints published while unsubscribed are gone: look once.
          this.hint();
        },
        (error: unknown) => {
          slots.logger.debug("subscribing to ready hints failed; retrying on reconnect", { err: error });
          redis.disconnect(true);
        },
      );
    });
    return redis;
  }
}
