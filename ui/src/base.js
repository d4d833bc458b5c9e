// The one place that knows where the app is hosted. A server running under a path
// prefix (`mlox server --static-prefix /p`) injects
// <script>window.__MLOX_STATIC_PREFIX__="/p"</script> into index.html; the API base URL
// and the router's base both derive from it. Default: the site root.
function normalize(p) {
  if (typeof p !== 'string') return '';
  p = p.trim().replace(/\/+$/, '');
  if (p && !p.startsWith('/')) p = '/' + p;
  return p;
}

export const PREFIX = normalize(typeof window !== 'undefined' ? window.__MLOX_STATIC_PREFIX__ : '');
/** The MLflow REST API as the UI calls it. */
export const API_BASE = PREFIX + '/ajax-api/2.0/mlflow/';
export const ARTIFACTS_BASE = PREFIX + '/ajax-api/2.0/mlflow-artifacts/artifacts/';
