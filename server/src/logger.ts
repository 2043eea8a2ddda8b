import { pino, type Logger } from "pino";

export function createLogger(level: string, name = "aiki-server"): Logger {
  return pino({ name, level });
}
