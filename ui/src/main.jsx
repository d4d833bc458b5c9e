import { render } from 'preact';
import { useLocation, Link, listParam } from './router.js';
import { ExperimentsPage } from './pages/experiments.jsx';
import { RunsPage } from './pages/runs.jsx';
import { RunPage } from './pages/run.jsx';
import { ComparePage } from './pages/compare.jsx';
import { ModelsPage, ModelPage, ModelVersionPage } from './pages/models.jsx';
import { LoggedModelsPage, LoggedModelPage } from './pages/logged_models.jsx';
import { TracesPage } from './pages/traces.jsx';
import { ChartsPage } from './pages/charts.jsx';
import { AdminUsersPage, UserBadge } from './pages/auth.jsx';
import { matchRoute } from './routes.js';
import './styles.css';

function page(r) {
  switch (r.page) {
    case 'experiments':
      return ['experiments', <ExperimentsPage />];
    case 'runs': {
      // MLflow's /compare-experiments/s?experiments=["1","2"] names them in the query.
      const expIds = r.expIds || listParam(new URLSearchParams(location.search).get('experiments'));
      return ['runs', <RunsPage key={expIds.join(',')} expIds={expIds} />];
    }
    case 'charts':
      return ['runs', <ChartsPage key={r.expId} expId={r.expId} />];
    case 'logged-models':
      return ['runs', <LoggedModelsPage key={r.expId} expId={r.expId} />];
    case 'logged-model':
      return ['runs', <LoggedModelPage key={r.modelId} expId={r.expId} modelId={r.modelId} tab={r.tab} sub={r.sub} />];
    case 'traces':
      return ['runs', <TracesPage key={r.expId} expId={r.expId} />];
    case 'run':
      return ['run', <RunPage key={r.runId} runId={r.runId} tab={r.tab} sub={r.sub} />];
    case 'compare':
      return ['compare', <ComparePage metric={r.metric} />];
    case 'models':
      return ['models', <ModelsPage />];
    case 'model':
      return ['models', <ModelPage key={r.name} name={r.name} />];
    case 'model-version':
      return ['models', <ModelVersionPage key={r.name + '/' + r.version} name={r.name} version={r.version} />];
    case 'admin-users':
      return ['admin', <AdminUsersPage />];
    default:
      return [
        '',
        <div class="page">
          <h1>Not found</h1>
          <p>
            No page at {r.path}. <Link href="/">Experiments</Link>
          </p>
        </div>,
      ];
  }
}

function App() {
  const loc = useLocation();
  const [section, view] = page(matchRoute(loc.split('?')[0]));
  return (
    <div class="app">
      <header class="topbar">
        <Link href="/" class="brand">
          <span class="logo" />mlox
        </Link>
        <nav>
          <Link href="/" class={section === 'experiments' || section === 'runs' || section === 'run' || section === 'compare' ? 'active' : ''}>
            Experiments
          </Link>
          <Link href="/models" class={section === 'models' ? 'active' : ''}>
            Models
          </Link>
        </nav>
        <UserBadge />
      </header>
      <main>{view}</main>
    </div>
  );
}

render(<App />, document.getElementById('app'));
