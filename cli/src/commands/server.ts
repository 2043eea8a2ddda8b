import { type Command, intOption, stringOption } from "../command.js";

const serverMain = new URL("../../../server/src/main.ts", import.meta.url);

export const server: Command = {
  words: ["server"],
  summary: "Start the Aiki server in this process (as npm start does)",
  args: [],
  options: { host: { type: "string" }, port: { type: "string" } },
  optionHelp: [
    ["--host H", "address to listen on (default AIKI_HOST or 127.0.0.1)"],
    ["--port N", "port (default AIKI_PORT or 9850; 0 picks a free one)"],
  ],
  notes: `Configured by the environment like npm start: DATABASE_URL, REDIS_URL, AIKI_DATA_DIR, AIKI_TLS_CERT,
AIKI_TLS_KEY, AIKI_LOG_LEVEL (see README.md). Stops gracefully on SIGTERM or SIGINT.`,
  async run(ctx) {
    const host = stringOption(ctx, "host");
    if (host !== undefined) process.env.AIKI_HOST = host;
    if (stringOption(ctx, "port") === "0") process.env.AIKI_PORT = "0";
    else if (stringOption(ctx, "port") !== undefined) process.env.AIKI_PORT = String(intOption(ctx, "port", 9850, 65535));
    // The server's own entry point: it reads the environment, listens, and owns the process from here on.
    await import(serverMain.href);
  },
};
