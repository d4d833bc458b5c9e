import { render } from 'preact';
import { useLocation, Link } from './router.js';
import { ExperimentsPage } from './pages/experiments.jsx';
import { RunsPage } from './pages/runs.jsx';
import { RunPage } from './pages/run.jsx';
import { ComparePage } from './pages/compare.jsx';
import { ModelsPage, ModelPage, ModelVersionPage } from './pages/models.jsx';
import './styles.css';

function route(path) {
  let m;
  if (path === '/' || path === '/experiments') return ['experiments', <ExperimentsPage />];
  if ((m = path.match(/^\/experiments\/([^/]+)\/?$/))) return ['runs', <RunsPage key={m[1]} expIds={decodeURIComponent(m[1]).split(',')} />];
  if ((m = path.match(/^\/runs\/([^/]+)(?:\/([^/]+)(?:\/(.*))?)?$/)))
    return ['run', <RunPage key={m[1]} runId={m[1]} tab={m[2] || 'overview'} sub={m[3] ? decodeURIComponent(m[3]) : ''} />];
  if (path === '/compare') return ['compare', <ComparePage />];
  if (path === '/models') return ['models', <ModelsPage />];
  if ((m = path.match(/^\/models\/([^/]+)\/versions\/([^/]+)$/)))
    return ['models', <ModelVersionPage name={decodeURIComponent(m[1])} version={m[2]} />];
  if ((m = path.match(/^\/models\/([^/]+)$/))) return ['models', <ModelPage name={decodeURIComponent(m[1])} />];
  return ['', <div class="page"><h1>Not found</h1><p>No page at {path}. <Link href="/">Experiments</Link></p></div>];
}

function App() {
  const loc = useLocation();
  const path = loc.split('?')[0];
  const [section, page] = route(path);
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
      </header>
      <main>{page}</main>
    </div>
  );
}

render(<App />, document.getElementById('app'));
