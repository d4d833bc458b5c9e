// The app's URLs: mlox's own clean paths and every MLflow UI route (which arrive as
// `/#/…` hash links, rewritten to paths by router.js, or as the same paths). Pure, so
// ui/tests/logic.test.mjs checks the table without a browser.

// MLflow's run-page tab names → mlox's.
const RUN_TABS = { overview: 'overview', 'model-metrics': 'metrics', metrics: 'metrics', 'system-metrics': 'system', artifacts: 'artifacts', traces: 'traces', evaluations: 'overview' };

const dec = (s) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** A path (no query) → {page, …params}. */
export function matchRoute(path) {
  const parts = path.split('/').filter(Boolean);
  const [a, b, c, d, e] = parts;
  const rest = (i) => parts.slice(i).map(dec).join('/');
  if (!a || (a === 'experiments' && !b) || a === 'index.html') return { page: 'experiments' };
  if (a === 'experiments') {
    const expIds = dec(b).split(',').filter(Boolean);
    const expId = expIds[0];
    // MLflow: /experiments/:id, /experiments/:id/runs, /experiments/:id/overview/…, /s (search)
    if (!c || c === 'runs' && !d || c === 'overview' || c === 's' || c === 'evaluation-runs' && !d) return { page: 'runs', expIds };
    if (c === 'charts') return { page: 'charts', expId };
    if (c === 'runs' || c === 'evaluation-runs') {
      // /experiments/:id/runs/:run[/:tab[/…]] and the legacy /artifactPath/…
      const tab = !e ? 'overview' : e === 'artifactPath' ? 'artifacts' : RUN_TABS[e] || 'overview';
      return { page: 'run', runId: d, tab, sub: e === 'artifacts' || e === 'artifactPath' ? rest(5) : '' };
    }
    if (c === 'models') {
      if (!d) return { page: 'logged-models', expId };
      return { page: 'logged-model', expId, modelId: dec(d), tab: e || 'overview', sub: e === 'artifacts' ? rest(5) : '' };
    }
    if (c === 'traces') return { page: 'traces', expId };
    return { page: 'runs', expIds };
  }
  if (a === 'runs' && b) return { page: 'run', runId: b, tab: c || 'overview', sub: c === 'artifacts' ? rest(3) : '' };
  if (a === 'compare' || a === 'compare-runs') return { page: 'compare' };
  if (a === 'metric' && b) return { page: 'compare', metric: rest(1) };
  if (a === 'compare-experiments') return { page: 'runs', expIds: null };
  if (a === 'models') {
    if (!b) return { page: 'models' };
    if (c === 'versions' && d) return { page: 'model-version', name: dec(b), version: d };
    return { page: 'model', name: dec(b) };
  }
  if (a === 'admin' && (!b || b === 'users')) return { page: 'admin-users' };
  if (a === 'logged-models' && b) return { page: 'logged-model', expId: null, modelId: dec(b), tab: c || 'overview', sub: c === 'artifacts' ? rest(3) : '' };
  return { page: '', path };
}

/** A list parameter in either form: MLflow's JSON array (`["a","b"]`) or mlox's `a,b`. */
export function listParam(v) {
  if (!v) return [];
  const s = v.trim();
  if (s.startsWith('[')) {
    try {
      const a = JSON.parse(s);
      if (Array.isArray(a)) return a.map(String).filter(Boolean);
    } catch {
      /* fall through to the comma form */
    }
  }
  return s.split(',').map((x) => x.trim()).filter(Boolean);
}
