import { formatDuration } from "./durations.js";

const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/**
 * A one-line spinner with a status text and the time elapsed, redrawn in place on stderr. Only
 * when that stream is a terminal: piped or redirected, it writes nothing at all.
 */
export class Progress {
  readonly enabled: boolean;
  #text = "";
  #frame = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #started = Date.now();

  constructor(private readonly stream: NodeJS.WritableStream & { isTTY?: boolean }) {
    this.enabled = stream.isTTY === true;
  }

  start(text: string): void {
    this.#text = text;
    if (!this.enabled || this.#timer) return;
    this.render();
    this.#timer = setInterval(() => this.render(), 100);
    this.#timer.unref();
  }

  update(text: string): void {
    this.#text = text;
  }

  /** Draws the next frame (the timer calls it; exposed for tests). */
  render(): void {
    if (!this.enabled) return;
    const frame = frames[this.#frame++ % frames.length];
    this.stream.write(`\r\x1b[K${frame} ${this.#text} · ${formatDuration(Date.now() - this.#started)}`);
  }

  /** Stops and erases the line, so what follows starts on a clean one. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.enabled) this.stream.write("\r\x1b[K");
  }
}
