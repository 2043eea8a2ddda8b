import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { ListenerRegistry } from "./listener-registry.js";
import type { Notifier } from "./notifier.js";

const originLength = 12;

/**
 * Hints through Redis pub/sub, so every server replica hears what any replica changed. While
 * Redis is away, publishes are dropped (listeners fall back to their slow re-reads) and ioredis
 * reconnects and resubscribes by itself.
 *
 * This replica's own listeners get its hints in process, without the round trip through Redis;
 * messages carry `{origin}|` so the copy that comes back from Redis is recognised and dropped.
 * Workers subscribed to Redis themselves ignore message contents.
 */
export class RedisNotifier implements Notifier {
  private readonly registry = new ListenerRegistry();
  private readonly origin = randomBytes(6).toString("hex");
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly toSubscribe = new Set<string>();
  private readonly toUnsubscribe = new Set<string>();
  private flushing = false;

  constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    const options = {
      // A hint that cannot be sent now is worthless later: fail fast instead of queueing.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
      lazyConnect: false,
    };
    // The hints of one commit (run, ready, worker, timers) leave in one write.
    this.pub = new Redis(url, { ...options, enableAutoPipelining: true });
    this.sub = new Redis(url, { ...options, enableOfflineQueue: true, autoResubscribe: true });
    let down = false;
    for (const conn of [this.pub, this.sub]) {
      conn.on("error", (error: Error) => {
        if (!down) logger.warn({ err: error.message }, "redis unavailable; falling back to polling");
        down = true;
      });
      conn.on("ready", () => {
        if (down) logger.info("redis reachable again");
        down = false;
      });
    }
    // A subscribe sent while Redis was down is not replayed by ioredis; resubscribe everything.
    this.sub.on("ready", () => {
      const all = this.registry.channels();
      if (all.length > 0) this.sub.subscribe(...all).catch(() => {});
    });
    this.sub.on("message", (channel: string, raw: string) => {
      const bar = raw.indexOf("|");
      if (bar === originLength && raw.startsWith(this.origin)) return;
      this.registry.deliver(channel, bar === originLength ? raw.slice(bar + 1) : raw);
    });
  }

  /** Resolves once both connections are up; rejects after timeoutMs. */
  async ready(timeoutMs = 5000): Promise<void> {
    const wait = (conn: Redis) =>
      conn.status === "ready"
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`redis not reachable within ${timeoutMs} ms`)), timeoutMs);
            conn.once("ready", () => {
              clearTimeout(timer);
              resolve();
            });
          });
    await Promise.all([wait(this.pub), wait(this.sub)]);
  }

  publish(channel: string, message = ""): void {
    queueMicrotask(() => this.registry.deliver(channel, message));
    this.pub.publish(channel, `${this.origin}|${message}`).catch((error: Error) => {
      this.logger.debug({ err: error.message, channel }, "hint not published");
    });
  }

  subscribe(channel: string, listener: (message: string) => void): () => void {
    if (this.registry.add(channel, listener)) this.change(channel, this.toSubscribe, this.toUnsubscribe);
    return () => {
      if (this.registry.remove(channel, listener)) this.change(channel, this.toUnsubscribe, this.toSubscribe);
    };
  }

  /**
   * Queues a SUBSCRIBE or UNSUBSCRIBE for the end of this turn of the event loop, when every
   * channel queued by then leaves in one command: each run's wait subscribes to the run's channel
   * and drops it once answered, and a command (and a write) per wait cost the server more CPU
   * than its hints saved. A channel taken and dropped within one turn needs no command at all.
   * Subscribing late by a turn loses nothing a subscription sent at once would have caught:
   * this server's own hints reach its listeners in process, and another's may always beat it.
   */
  private change(channel: string, queue: Set<string>, opposite: Set<string>): void {
    if (opposite.delete(channel)) return;
    queue.add(channel);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      const subscribe = [...this.toSubscribe];
      const unsubscribe = [...this.toUnsubscribe];
      this.toSubscribe.clear();
      this.toUnsubscribe.clear();
      // Resubscribed automatically on reconnect; until then listeners rely on re-reads.
      if (subscribe.length > 0) this.sub.subscribe(...subscribe).catch(() => {});
      if (unsubscribe.length > 0) this.sub.unsubscribe(...unsubscribe).catch(() => {});
    });
  }

  async close(): Promise<void> {
    this.pub.disconnect();
    this.sub.disconnect();
  }
}
