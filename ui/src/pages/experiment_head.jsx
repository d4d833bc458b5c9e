// The header shared by an experiment's views: its name, description and the tabs
// Runs · Charts · Models · Traces (MLflow's experiment tabs, same URLs).
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api.js';
import { Link } from '../router.js';
import { safeMarkdown } from '../markdown.js';
import { errText } from '../util.js';
import { PermissionsPanel } from './auth.jsx';

export function useExperiments(expIds) {
  const [exps, setExps] = useState([]);
  const [error, setError] = useState(null);
  const key = (expIds || []).join(',');
  useEffect(() => {
    if (!key) return;
    Promise.all(expIds.map((id) => api.getExperiment(id))).then(setExps, setError);
  }, [key]);
  return [exps, error];
}

export function ExperimentHead({ expIds, exps, tab, children }) {
  const [loaded, error] = useExperiments(exps ? [] : expIds);
  const list = exps || loaded;
  const one = expIds.length === 1 ? expIds[0] : null;
  const tabs = one
    ? [
        ['runs', 'Runs', `/experiments/${one}`],
        ['charts', 'Charts', `/experiments/${one}/charts`],
        ['models', 'Models', `/experiments/${one}/models`],
        ['traces', 'Traces', `/experiments/${one}/traces`],
      ]
    : [];
  return (
    <div class="exp-head">
      <div class="crumbs">
        <Link href="/">Experiments</Link> /
      </div>
      <div class="page-head">
        <h1 data-testid="experiment-title">
          {list.length ? list.map((e) => e.name).join(' · ') : 'Experiment'}
          <span class="muted small"> experiment {expIds.join(', ')}</span>
        </h1>
        {children}
      </div>
      {error && <div class="error">{errText(error)}</div>}
      {list.length === 1 && <ExperimentDescription exp={list[0]} />}
      {list.length === 1 && <ExperimentTags exp={list[0]} />}
      {one && list.length === 1 && <PermissionsPanel resourceType="experiment" resourceId={one} />}
      {tabs.length > 0 && (
        <div class="tabs" data-testid="experiment-tabs">
          {tabs.map(([t, label, href]) => (
            <Link key={t} href={href} class={tab === t ? 'on' : ''}>
              {label}
            </Link>
          ))}
        </div>
      )}
    </div>
  );
}

function ExperimentDescription({ exp }) {
  const note = (exp.tags || []).find((t) => t.key === 'mlflow.note.content')?.value;
  const [open, setOpen] = useState(false);
  if (!note) return null;
  return (
    <div class={'exp-desc markdown small' + (open ? ' open' : '')} data-testid="experiment-description">
      <div dangerouslySetInnerHTML={{ __html: safeMarkdown(note) }} />
      {(note.length > 200 || note.trim().includes('\n')) && (
        <button class="link" onClick={() => setOpen(!open)}>
          {open ? 'less' : 'more'}
        </button>
      )}
    </div>
  );
}

/** The experiment's own tags (not MLflow's `mlflow.*` ones) as chips under its name. */
function ExperimentTags({ exp }) {
  const tags = (exp.tags || []).filter((t) => !t.key.startsWith('mlflow.'));
  if (!tags.length) return null;
  return (
    <div class="exp-tags" data-testid="experiment-tags">
      {tags.map((t) => (
        <span key={t.key} class="chip" title={`${t.key}=${t.value}`}>
          {t.key}={t.value.length > 40 ? t.value.slice(0, 39) + '…' : t.value}
        </span>
      ))}
    </div>
  );
}
