/**
 * When a session's conversation is over: the peer has said all it will (`undefined`), reading it
 * broke (the error), or the server shuts down (`undefined`). `dispose` drops the shutdown
 * listener once the session's stream has ended.
 */
export function conversationEnd(reader: Promise<void>, shutdownSignal: AbortSignal): { ended: Promise<unknown>; dispose(): void } {
  let onShutdown = () => {};
  const shutdown = new Promise<undefined>((resolve) => {
    onShutdown = () => resolve(undefined);
    if (shutdownSignal.aborted) onShutdown();
    shutdownSignal.addEventListener("abort", onShutdown, { once: true });
  });
  const ended = Promise.race([
    reader.then(
      () => undefined,
      (error: unknown) => error,
    ),
    shutdown,
  ]);
  return { ended, dispose: () => shutdownSignal.removeEventListener("abort", onShutdown) };
}
