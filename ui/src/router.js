// A tiny history-API router: every page has a URL (deep links work because the
// server answers the app's non-API paths with index.html). MLflow's hash links
// (`/#/experiments/1/runs/<id>`, as the client prints them) are rewritten once into the
// same path form, so both open the same page. Paths are relative to PREFIX (base.js).
import { useEffect, useState } from 'preact/hooks';
import { jsx } from 'preact/jsx-runtime';
import { PREFIX } from './base.js';

const listeners = new Set();

/** The app's path and query, without the prefix. */
export function currentUrl() {
  let p = location.pathname;
  if (PREFIX && (p === PREFIX || p.startsWith(PREFIX + '/'))) p = p.slice(PREFIX.length) || '/';
  return p + location.search;
}

function notify() {
  const u = currentUrl();
  listeners.forEach((f) => f(u));
}

/** `#/experiments/1/runs/x?y` → `/experiments/1/runs/x?y` (replacing the history entry). */
function adoptHash() {
  const h = location.hash;
  if (!h.startsWith('#/')) return false;
  history.replaceState(null, '', PREFIX + h.slice(1));
  return true;
}
adoptHash();
window.addEventListener('popstate', notify);
window.addEventListener('hashchange', () => adoptHash() && notify());

export function navigate(url, { replace = false } = {}) {
  if (url === currentUrl()) return;
  if (replace) history.replaceState(null, '', PREFIX + url);
  else history.pushState(null, '', PREFIX + url);
  notify();
}

export function useLocation() {
  const [loc, setLoc] = useState(currentUrl());
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
  navigate(currentUrl().split('?')[0] + (s ? '?' + s : ''), { replace: true });
}

export function Link({ href, children, ...rest }) {
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return jsx('a', { href: PREFIX + href, onClick, ...rest, children });
}

export { listParam } from './routes.js';
