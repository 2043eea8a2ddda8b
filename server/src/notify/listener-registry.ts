/** Channel → listeners bookkeeping shared by the notifier implementations. */
export class ListenerRegistry {
  private readonly listeners = new Map<string, Set<(message: string) => void>>();

  /** Adds a listener; returns true when it is the channel's first. */
  add(channel: string, listener: (message: string) => void): boolean {
    let set = this.listeners.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(listener);
    return first;
  }

  /** Removes a listener; returns true when the channel has none left. */
  remove(channel: string, listener: (message: string) => void): boolean {
    const set = this.listeners.get(channel);
    if (!set) return false;
    set.delete(listener);
    if (set.size > 0) return false;
    this.listeners.delete(channel);
    return true;
  }

  deliver(channel: string, message: string): void {
    const set = this.listeners.get(channel);
    if (!set) return;
    for (const listener of [...set]) listener(message);
  }

  channels(): string[] {
    return [...this.listeners.keys()];
  }
}
