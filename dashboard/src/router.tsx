// A small client-side router on the History API: the app's paths live under /ui/, and every
// view keeps its state (filters, tabs) in the URL so a link or a reload shows the same thing.
import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from "react";

export const base = "/ui";
const changed = "aiki:navigate";

function subscribe(callback: () => void): () => void {
  window.addEventListener("popstate", callback);
  window.addEventListener(changed, callback);
  return () => {
    window.removeEventListener("popstate", callback);
    window.removeEventListener(changed, callback);
  };
}

const snapshot = () => location.pathname + location.search;

/** The app path (without /ui) and its query. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const full = useSyncExternalStore(subscribe, snapshot);
  const url = new URL(full, location.origin);
  const path = url.pathname.startsWith(base) ? url.pathname.slice(base.length) || "/" : url.pathname;
  return { path, query: url.searchParams };
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const href = base + to;
  if (href === snapshot()) return;
  if (options.replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  window.dispatchEvent(new Event(changed));
}

/** A plain link that navigates without reloading (and still opens in a new tab on ctrl-click). */
export function Link({ to, onClick, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={base + to} onClick={click} {...rest} />;
}
