import { useEffect, useState } from 'preact/hooks';
import { safeMarkdown } from '../markdown.js';
import * as api from '../api.js';
import { Link, navigate } from '../router.js';
import { MetricChart, ChartControls } from '../chart.jsx';
import { fmtTime, fmtDuration, fmtNum, runName, kv, errText } from '../util.js';
import { Artifacts } from './artifacts.jsx';
import { LoggedModelsTable, useLoggedModels } from './logged_models.jsx';
import { RunImages } from './images.jsx';
import { KeyValueCard } from '../widgets.jsx';

export function RunPage({ runId, tab, sub }) {
  const [run, setRun] = useState(null);
  const [exp, setExp] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  const [children, setChildren] = useState([]);

  useEffect(() => {
    let next = 0;
    let alive = true;
    api.getRun(runId).then((r) => {
      if (!alive) return;
      setRun(r);
      setError(null);
      // Live: a running run refreshes itself (and its charts) without a reload; the
      // next refresh is scheduled once this one has answered.
      if (r.info.status === 'RUNNING' || r.info.status === 'SCHEDULED') next = setTimeout(() => setTick((x) => x + 1), 3000);
    }, (e) => alive && setError(e));
    return () => ((alive = false), clearTimeout(next));
  }, [runId, tick]);
  useEffect(() => {
    if (!run) return;
    api.getExperiment(run.info.experiment_id).then(setExp, () => {});
    api
      .searchRuns({ experiment_ids: [run.info.experiment_id], filter: `tags.\`mlflow.parentRunId\` = '${runId}'`, max_results: 200 })
      .then((r) => setChildren(r.runs || []), () => {});
  }, [run?.info.experiment_id, runId]);
  const live = run?.info.status === 'RUNNING' || run?.info.status === 'SCHEDULED';

  if (error) return <div class="page"><div class="error">{errText(error)}</div></div>;
  if (!run) return <div class="page muted">Loading…</div>;
  const tags = kv(run.data.tags);
  const base = '/runs/' + runId;
  const all = run.data.metrics || [];
  const nSystem = all.filter((m) => m.key.startsWith('system/')).length;
  const tabs = [
    ['overview', 'Overview'],
    ['metrics', `Model metrics (${all.length - nSystem})`],
    ...(nSystem ? [['system', `System metrics (${nSystem})`]] : []),
    ['artifacts', 'Artifacts'],
  ];
  return (
    <div class="page">
      <div class="crumbs">
        <Link href="/">Experiments</Link> / {exp ? <Link href={'/experiments/' + exp.experiment_id}>{exp.name}</Link> : run.info.experiment_id} /
      </div>
      <div class="page-head">
        <h1 data-testid="run-title">
          {runName(run)} <span class={'status s-' + run.info.status}>{run.info.status}</span>
          {live && <span class="live" title="refreshing every 3 s">● live</span>}
          {run.info.lifecycle_stage === 'deleted' && <span class="status s-FAILED">deleted</span>}
        </h1>
      </div>
      <div class="tabs">
        {tabs.map(([t, label]) => (
          <Link key={t} href={t === 'overview' ? base : base + '/' + t} class={tab === t ? 'on' : ''}>
            {label}
          </Link>
        ))}
        <Link href={`/experiments/${run.info.experiment_id}/traces?filter=${encodeURIComponent(`trace.run_id = '${runId}'`)}`} data-testid="run-traces-link">
          Traces
        </Link>
      </div>
      {tab === 'overview' && <Overview run={run} tags={tags} children={children} onChange={() => setTick((x) => x + 1)} />}
      {tab === 'metrics' && <RunCharts run={run} live={live} system={false} />}
      {tab === 'system' && <RunCharts run={run} live={live} system={true} />}
      {tab === 'artifacts' && <Artifacts run={run} path={sub} onNavigate={(p) => navigate(base + '/artifacts/' + p.split('/').map(encodeURIComponent).join('/'))} />}
    </div>
  );
}

function Overview({ run, tags, children, onChange }) {
  const i = run.info;
  const parent = tags['mlflow.parentRunId'];
  const commit = tags['mlflow.source.git.commit'];
  const repo = tags['mlflow.source.git.repoURL'];
  // Model metrics only: `system/…` metrics (MLflow's system-metrics monitor) live in their own tab.
  const allMetrics = run.data.metrics || [];
  const metrics = allMetrics.filter((m) => !m.key.startsWith('system/')).sort((a, b) => a.key.localeCompare(b.key));
  const nSystem = allMetrics.length - metrics.length;
  const params = [...(run.data.params || [])].sort((a, b) => a.key.localeCompare(b.key));
  const datasets = run.inputs?.dataset_inputs || [];
  return (
    <div class="overview">
      <div class="cols2">
        <section class="card">
          <h3>Details</h3>
          <dl class="kv">
            <dt>Run ID</dt>
            <dd class="mono">{i.run_id}</dd>
            <dt>Status</dt>
            <dd>{i.status}</dd>
            <dt>Started</dt>
            <dd>{fmtTime(i.start_time)}</dd>
            <dt>Ended</dt>
            <dd>{fmtTime(i.end_time)}</dd>
            <dt>Duration</dt>
            <dd>{fmtDuration(i.start_time, i.end_time)}</dd>
            <dt>User</dt>
            <dd>{i.user_id}</dd>
            <dt>Source</dt>
            <dd class="mono">{tags['mlflow.source.name'] || ''} <span class="muted">{tags['mlflow.source.type'] || ''}</span></dd>
            {commit && <dt>Git commit</dt>}
            {commit && (
              <dd class="mono">
                {commit.slice(0, 12)} {repo && <span class="muted">{repo}</span>}
              </dd>
            )}
            {parent && <dt>Parent run</dt>}
            {parent && (
              <dd>
                <Link href={'/runs/' + parent} class="mono">
                  {parent}
                </Link>
              </dd>
            )}
            {children.length > 0 && <dt>Child runs</dt>}
            {children.length > 0 && (
              <dd data-testid="child-runs">
                {children.map((c) => (
                  <div key={c.info.run_id}>
                    <Link href={'/runs/' + c.info.run_id}>{runName(c)}</Link>
                  </div>
                ))}
              </dd>
            )}
            <dt>Artifact URI</dt>
            <dd class="mono small">{i.artifact_uri}</dd>
          </dl>
        </section>
        <Description run={run} note={tags['mlflow.note.content'] || ''} onChange={onChange} />
      </div>
      <div class="cols2">
        <section class="card">
          <h3>
            Metrics ({metrics.length})
            {nSystem > 0 && (
              <Link class="h3-aside" href={`/runs/${i.run_id}/system`} data-testid="system-metrics-link">
                {nSystem} system metric{nSystem === 1 ? '' : 's'} →
              </Link>
            )}
          </h3>
          <table class="tbl compact" data-testid="run-metrics">
            <tbody>
              {metrics.map((m) => (
                <tr key={m.key}>
                  <td>
                    <Link href={`/runs/${i.run_id}/metrics?key=${encodeURIComponent(m.key)}`}>{m.key}</Link>
                  </td>
                  <td class="num mono">{fmtNum(m.value)}</td>
                  <td class="muted small">step {m.step}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <KeyValueCard title="Parameters" rows={params} testid="run-params" />
      </div>
      <RunLoggedModels run={run} />
      <RunImages run={run} />
      <div class="cols2">
        <Tags run={run} onChange={onChange} />
        <section class="card">
          <h3>Datasets ({datasets.length})</h3>
          <table class="tbl compact" data-testid="run-datasets">
            <tbody>
              {datasets.map((d, k) => (
                <tr key={k}>
                  <td>{d.dataset?.name}</td>
                  <td class="mono small">{d.dataset?.digest}</td>
                  <td class="muted small">{(d.tags || []).map((t) => `${t.key}=${t.value}`).join(', ')}</td>
                  <td class="muted small">{d.dataset?.source_type}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
    </div>
  );
}

function Description({ run, note, onChange }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(note);
  const [error, setError] = useState(null);
  return (
    <section class="card">
      <h3>
        Description{' '}
        {!editing && (
          <button class="link" onClick={() => (setText(note), setEditing(true))} data-testid="edit-description">
            edit
          </button>
        )}
      </h3>
      {error && <div class="error">{errText(error)}</div>}
      {editing ? (
        <div>
          <textarea rows="8" class="full mono" value={text} onInput={(e) => setText(e.target.value)} data-testid="description-input" />
          <button
            class="primary"
            onClick={() =>
              api.setRunTag(run.info.run_id, 'mlflow.note.content', text).then(() => (setEditing(false), onChange()), setError)
            }
          >
            Save
          </button>{' '}
          <button onClick={() => setEditing(false)}>Cancel</button>
        </div>
      ) : note ? (
        <div class="markdown" data-testid="description" dangerouslySetInnerHTML={{ __html: safeMarkdown(note) }} />
      ) : (
        <p class="muted">No description.</p>
      )}
    </section>
  );
}


function Tags({ run, onChange }) {
  const [showSystem, setShowSystem] = useState(false);
  const [k, setK] = useState('');
  const [v, setV] = useState('');
  const [error, setError] = useState(null);
  const all = [...(run.data.tags || [])].sort((a, b) => a.key.localeCompare(b.key));
  const shown = all.filter((t) => showSystem || !t.key.startsWith('mlflow.'));
  const id = run.info.run_id;
  return (
    <section class="card">
      <h3>
        Tags ({shown.length}){' '}
        <label class="chk small">
          <input type="checkbox" checked={showSystem} onChange={(e) => setShowSystem(e.target.checked)} /> system tags
        </label>
      </h3>
      {error && <div class="error">{errText(error)}</div>}
      <table class="tbl compact" data-testid="run-tags">
        <tbody>
          {shown.map((t) => (
            <tr key={t.key}>
              <td>{t.key}</td>
              <td class="mono">
                <EditableValue value={t.value} onSave={(nv) => api.setRunTag(id, t.key, nv).then(onChange, setError)} />
              </td>
              <td class="actions">
                <button class="link danger" onClick={() => api.deleteRunTag(id, t.key).then(onChange, setError)} title="delete tag">
                  ✕
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (!k.trim()) return;
          api.setRunTag(id, k.trim(), v).then(() => (setK(''), setV(''), onChange()), setError);
        }}
      >
        <input placeholder="key" value={k} onInput={(e) => setK(e.target.value)} data-testid="tag-key" />
        <input placeholder="value" value={v} onInput={(e) => setV(e.target.value)} data-testid="tag-value" />
        <button type="submit">Add tag</button>
      </form>
    </section>
  );
}

function EditableValue({ value, onSave }) {
  const [editing, setEditing] = useState(false);
  const [v, setV] = useState(value);
  if (!editing)
    return (
      <span class="editable" title="click to edit" onClick={() => (setV(value), setEditing(true))}>
        {value || <i class="muted">empty</i>}
      </span>
    );
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        setEditing(false);
        if (v !== value) onSave(v);
      }}
    >
      <input value={v} onInput={(e) => setV(e.target.value)} onKeyDown={(e) => e.key === 'Escape' && setEditing(false)} ref={(el) => el && el.focus()} />
    </form>
  );
}

function RunCharts({ run, live, system }) {
  // System metrics (`system/…`, logged by MLflow's system-metrics monitor) have their own tab.
  const keys = [...new Set((run.data.metrics || []).map((m) => m.key))].filter((k) => k.startsWith('system/') === system).sort();
  const want = new URLSearchParams(location.search).get('key');
  const [xMode, setXMode] = useState('step');
  const [log, setLog] = useState(false);
  const [smoothing, setSmoothing] = useState(0);
  const [focus, setFocus] = useState(want && keys.includes(want) ? want : null);
  const runs = [{ id: run.info.run_id, name: runName(run), startTime: Number(run.info.start_time) }];
  if (!keys.length) return <p class="muted pad">This run has no {system ? 'system ' : ''}metrics.</p>;
  return (
    <div>
      <ChartControls {...{ xMode, setXMode, log, setLog, smoothing, setSmoothing }} />
      {focus && (
        <div class="card">
          <h3>
            {focus}{' '}
            <button class="link" onClick={() => setFocus(null)}>
              all charts
            </button>
          </h3>
          <MetricChart runs={runs} metricKey={focus} xMode={xMode} log={log} smoothing={smoothing} live={live} height={420} />
        </div>
      )}
      <div class="chart-grid">
        {keys
          .filter((k) => k !== focus)
          .slice(0, 60)
          .map((k) => (
            <div class="card" key={k}>
              <h3>
                <button class="link" onClick={() => setFocus(k)}>
                  {k}
                </button>
              </h3>
              <MetricChart runs={runs} metricKey={k} xMode={xMode} log={log} smoothing={smoothing} live={live} height={200} compact />
            </div>
          ))}
      </div>
    </div>
  );
}

/** The MLflow 3 models this run logged (`log_model(name=…)`), each linked to its page. */
function RunLoggedModels({ run }) {
  const [models] = useLoggedModels([run.info.experiment_id], run.info.run_id);
  if (!models || models.length === 0) return null;
  return (
    <section class="card" data-testid="run-logged-models">
      <h3>Logged models ({models.length})</h3>
      <LoggedModelsTable models={models} expIds={[run.info.experiment_id]} showRun={false} />
    </section>
  );
}
