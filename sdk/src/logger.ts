export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

/** Message first, structured fields second; `child` adds bindings to every line. */
export interface Logger {
  trace(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
}

const levelRank: Record<LogLevel | "silent", number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, silent: 100 };

export interface ConsoleLoggerOptions {
  /** Lines below this level are dropped; default AIKI_LOG_LEVEL, else "info". */
  level?: LogLevel | "silent";
  bindings?: LogFields;
}

/** The default logger: one line per call on the console, fields as JSON. */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const envLevel = process.env.AIKI_LOG_LEVEL as LogLevel | "silent" | undefined;
  const level = options.level ?? (envLevel && envLevel in levelRank ? envLevel : "info");
  return makeConsoleLogger(levelRank[level], options.bindings ?? {});
}

function makeConsoleLogger(minRank: number, bindings: LogFields): Logger {
  const write = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (levelRank[level] < minRank) return;
    const all = fields ? { ...bindings, ...fields } : bindings;
    const extra = Object.keys(all).length > 0 ? ` ${stringifyFields(all)}` : "";
    const line = `${new Date().toISOString()} ${level.toUpperCase()} ${message}${extra}`;
    if (level === "error") console.error(line);
    else if (level === "warn") console.warn(line);
    else console.log(line);
  };
  return {
    trace: write("trace"),
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    child: (more) => makeConsoleLogger(minRank, { ...bindings, ...more }),
  };
}

function stringifyFields(fields: LogFields): string {
  try {
    return JSON.stringify(fields, (_key, value: unknown) =>
      value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value,
    );
  } catch {
    return "[unserializable fields]";
  }
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

/** Wraps a logger so that lines are dropped while `muted()` answers true (replayed workflow code). */
export function replayAwareLogger(inner: Logger, muted: () => boolean): Logger {
  const gate =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      if (!muted()) inner[level](message, fields);
    };
  return {
    trace: gate("trace"),
    debug: gate("debug"),
    info: gate("info"),
    warn: gate("warn"),
    error: gate("error"),
    child: (bindings) => replayAwareLogger(inner.child(bindings), muted),
  };
}
