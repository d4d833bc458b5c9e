// A tiny history-API router: every page has a URL (deep links work because the
// server answers unknown non-API paths with index.html).
import { useEffect, useState } from 'preact/hooks';
import { jsx } from 'preact/jsx-runtime';

const listeners = new Set();
function notify() {
  listeners.forEach((f) => f(location.pathname + location.search));
}
window.addEventListener('popstate', notify);

export function navigate(url, { replace = false } = {}) {
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  notify();
}

export function useLocation() {
  const [loc, setLoc] = useState(location.pathname + location.search);
  useEffect(() => {
    listeners.add(setLoc);
    return () => listeners.delete(setLoc);
  }, []);
  return loc;
}

export function useQuery() {
  useLocation();
  return new URLSearchParams(location.search);
}

/** Updates one query parameter without adding a history entry. */
export function setQuery(updates) {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(updates)) {
    if (v === undefined || v === null || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  navigate(location.pathname + (s ? '?' + s : ''), { replace: true });
}

export function Link({ href, children, ...rest }) {
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return jsx('a', { href, onClick, ...rest, children });
}
