// RedisNotifier against a Redis server of its own (so its command counts are this file's alone):
// hints cross replicas, and the SUBSCRIBE/UNSUBSCRIBE commands of one turn of the event loop leave
// as one command each, so a channel taken and dropped within a turn never reaches Redis and one
// dropped and taken again stays subscribed.
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisNotifier } from "../src/notify/redis-notifier.js";
import { type RedisServerInfo, startRedisServer, stopRedisServer } from "../../test/support/servers.js";

const logger = pino({ level: "silent" });
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("RedisNotifier", () => {
  let redis: RedisServerInfo;
  let a: RedisNotifier;
  let b: RedisNotifier;
  let admin: Redis;

  beforeAll(async () => {
    redis = await startRedisServer({ label: "notifier" });
    a = new RedisNotifier(redis.url, logger);
    b = new RedisNotifier(redis.url, logger);
    admin = new Redis(redis.url);
    await Promise.all([a.ready(), b.ready()]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    admin?.disconnect();
    if (redis) await stopRedisServer(redis, { removeDir: true });
  });

  const subscribers = async (channel: string) => Number(((await admin.pubsub("NUMSUB", channel)) as [string, number])[1]);
  /** Polls until `channel` has `n` subscribers (Redis applies the commands on another connection). */
  async function untilSubscribers(channel: string, n: number): Promise<void> {
    for (const until = Date.now() + 5_000; Date.now() < until; await new Promise((resolve) => setTimeout(resolve, 5))) {
      if ((await subscribers(channel)) === n) return;
    }
    throw new Error(`${channel} did not reach ${n} subscribers within 5 s (has ${await subscribers(channel)})`);
  }
  async function calls(command: "subscribe" | "unsubscribe"): Promise<number> {
    const stats = await admin.info("commandstats");
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  }

  it("subscribes the channels of one turn in one command, and hears another replica's hints on them", async () => {
    const before = await calls("subscribe");
    const channels = Array.from({ length: 20 }, (_, i) => `aiki:run:default:${i}`);
    const heard = channels.map((c) => new Promise<string>((resolve) => b.subscribe(c, resolve)));
    await untilSubscribers(channels.at(-1)!, 1);
    for (const c of channels) a.publish(c, "completed");
    expect(await Promise.all(heard)).toEqual(channels.map(() => "completed"));
    expect((await calls("subscribe")) - before).toBe(1);
  });

  it("sends nothing for a channel subscribed and dropped within one turn", async () => {
    const [subscribes, unsubscribes] = [await calls("subscribe"), await calls("unsubscribe")];
    b.subscribe("brief", () => {})();
    await turn();
    // A later subscription, through the same connection, has reached Redis: so would the brief one.
    b.subscribe("probe", () => {});
    await untilSubscribers("probe", 1);
    expect(await subscribers("brief")).toBe(0);
    expect((await calls("subscribe")) - subscribes).toBe(1);
    expect((await calls("unsubscribe")) - unsubscribes).toBe(0);
  });

  it("keeps a channel dropped and taken again within one turn", async () => {
    const first = b.subscribe("kept", () => {});
    await untilSubscribers("kept", 1);
    const unsubscribes = await calls("unsubscribe");
    first();
    const heard = new Promise<string>((resolve) => b.subscribe("kept", resolve));
    await turn();
    a.publish("kept", "again");
    expect(await heard).toBe("again");
    expect(await subscribers("kept")).toBe(1);
    expect((await calls("unsubscribe")) - unsubscribes).toBe(0);
  });

  it("unsubscribes a channel once its last listener leaves", async () => {
    const first = b.subscribe("dropped", () => {});
    const second = b.subscribe("dropped", () => {});
    await untilSubscribers("dropped", 1);
    first();
    await turn();
    expect(await subscribers("dropped")).toBe(1);
    second();
    await untilSubscribers("dropped", 0);
  });
});
