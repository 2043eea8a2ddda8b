import { ListenerRegistry } from "./listener-registry.js";
import type { Notifier } from "./notifier.js";

/** For a single server without Redis: hints travel within the process. */
export class InProcessNotifier implements Notifier {
  private readonly registry = new ListenerRegistry();

  publish(channel: string, message = ""): void {
    // Delivered after the publisher's current work, like a network hint would be.
    queueMicrotask(() => this.registry.deliver(channel, message));
  }

  subscribe(channel: string, listener: (message: string) => void): () => void {
    this.registry.add(channel, listener);
    return () => void this.registry.remove(channel, listener);
  }

  async close(): Promise<void> {}
}
