// The limits of docs/limits.md as configuration: each read from its variable, the defaults when
// unset, and a bad value refused naming the variable (main.ts then exits before listening).
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/src/config.js";
import { defaultConnectionLimits } from "../../server/src/listen-one-port.js";
import { defaultLimits, limitVariables } from "../../server/src/limits.js";

describe("limits in the configuration", () => {
  it("defaults every limit when its variable is unset or empty", () => {
    const config = loadConfig({ AIKI_MAX_PAGE_SIZE: "" });
    expect(config.limits).toEqual(defaultLimits);
    expect(config.connectionLimits).toEqual(defaultConnectionLimits);
    expect(config.maxMetricWorkflows).toBe(200);
  });

  it("reads each limit from its own variable", () => {
    const env = Object.fromEntries(Object.values(limitVariables).map((name, i) => [name, String(i + 7)]));
    const config = loadConfig({ ...env, AIKI_HEADERS_TIMEOUT_MS: "2500", AIKI_MAX_CONCURRENT_STREAMS: "64", AIKI_MAX_METRIC_WORKFLOWS: "3" });
    for (const [i, key] of Object.keys(limitVariables).entries()) expect(config.limits[key as keyof typeof defaultLimits]).toBe(i + 7);
    expect(config.connectionLimits).toMatchObject({ headersTimeoutMs: 2500, maxConcurrentStreams: 64 });
    expect(config.maxMetricWorkflows).toBe(3);
  });

  it("refuses a bad value naming the variable", () => {
    for (const [name, value] of [
      ["AIKI_MAX_PAYLOAD_BYTES", "1MB"],
      ["AIKI_MAX_STREAMS_PER_CALLER", "0"],
      ["AIKI_MAX_JSON_DEPTH", "-1"],
      ["AIKI_IDLE_CONNECTION_TIMEOUT_MS", "1.5"],
    ] as const) {
      let error: unknown;
      try {
        loadConfig({ [name]: value });
      } catch (e) {
        error = e;
      }
      expect(error, name).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.join("\n")).toContain(name);
    }
  });
});
