// MLflow 3 logged models (`log_model(name=…)`): the experiment's Models tab and a
// logged model's page (metrics, params, tags, signature, input example, artifacts,
// registered versions). URLs as MLflow's: /experiments/<id>/models[/<model_id>].
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api.js';
import { Link, navigate } from '../router.js';
import { fmtTime, fmtNum, errText } from '../util.js';
import { parseSignature, modelVersionsOf } from '../logic.js';
import { ExperimentHead } from './experiment_head.jsx';
import { Artifacts, proxiedSource } from './artifacts.jsx';
import { RegisterModel } from './models.jsx';
import { KeyValueCard } from '../widgets.jsx';

export const loggedModelHref = (m) => `/experiments/${m.info.experiment_id}/models/${encodeURIComponent(m.info.model_id)}`;

const STATUS = { LOGGED_MODEL_READY: 'READY', LOGGED_MODEL_PENDING: 'PENDING', LOGGED_MODEL_UPLOAD_FAILED: 'FAILED' };
export function ModelStatus({ status }) {
  const s = STATUS[status] || status || '';
  return <span class={'status ' + (s === 'READY' ? 's-FINISHED' : s === 'FAILED' ? 's-FAILED' : 's-RUNNING')}>{s}</span>;
}

/** Names of the runs behind a list of logged models, in one search. */
function useRunNames(expIds, ids) {
  const [names, setNames] = useState({});
  const key = [...new Set(ids)].sort().join(',');
  useEffect(() => {
    if (!key) return;
    api
      .searchRuns({ experiment_ids: expIds, filter: `attributes.run_id IN (${key.split(',').map((x) => `'${x}'`).join(',')})`, run_view_type: 'ALL', max_results: 1000 })
      .then((r) => setNames(Object.fromEntries((r.runs || []).map((x) => [x.info.run_id, x.info.run_name || x.info.run_id.slice(0, 8)]))), () => {});
  }, [key]);
  return names;
}

/** Logged models of experiments (optionally of one run), newest first. */
export function useLoggedModels(expIds, runId) {
  const [models, setModels] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api
      .searchLoggedModels({
        experiment_ids: expIds,
        filter: runId ? `source_run_id = '${runId}'` : undefined,
        max_results: 100,
        order_by: [{ field_name: 'creation_timestamp', ascending: false }],
      })
      .then((r) => setModels(r.models || []), (e) => (setModels([]), setError(e)));
  }, [expIds.join(','), runId]);
  return [models, error];
}

export function LoggedModelsTable({ models, expIds, showRun = true }) {
  const runNames = useRunNames(expIds, showRun ? models.map((m) => m.info.source_run_id).filter(Boolean) : []);
  const metricKeys = [...new Set(models.flatMap((m) => (m.data?.metrics || []).map((x) => x.key)))]
    .filter((k) => !k.startsWith('system/'))
    .sort()
    .slice(0, 8);
  const paramKeys = [...new Set(models.flatMap((m) => (m.data?.params || []).map((x) => x.key)))].sort().slice(0, 6);
  const latest = (m, k) => {
    const pts = (m.data?.metrics || []).filter((x) => x.key === k);
    // Protobuf JSON may omit a zero step or send an int64 as a string: compare as numbers.
    const n = (v) => Number(v ?? 0);
    return pts.length
      ? pts.reduce((a, b) => (n(b.step) > n(a.step) || (n(b.step) === n(a.step) && n(b.timestamp) > n(a.timestamp)) ? b : a)).value
      : undefined;
  };
  return (
    <div class="tbl-wrap">
      <table class="tbl" data-testid="logged-models">
        <thead>
          <tr>
            <th>Model</th>
            <th>Status</th>
            <th class="nowrap">Created</th>
            {showRun && <th>Source run</th>}
            <th>Registered</th>
            {metricKeys.map((k) => (
              <th key={'m' + k} class="num h-metric-th" title={'metric ' + k}>
                {k}
              </th>
            ))}
            {paramKeys.map((k) => (
              <th key={'p' + k} class="h-param-th" title={'param ' + k}>
                {k}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {models.map((m) => (
            <tr key={m.info.model_id}>
              <td>
                <Link href={loggedModelHref(m)} class="strong">
                  {m.info.name}
                </Link>
                <div class="muted small mono">{m.info.model_id}</div>
              </td>
              <td>
                <ModelStatus status={m.info.status} />
              </td>
              <td class="nowrap">{fmtTime(m.info.creation_timestamp_ms)}</td>
              {showRun && (
                <td>{m.info.source_run_id ? <Link href={`/experiments/${m.info.experiment_id}/runs/${m.info.source_run_id}`}>{runNames[m.info.source_run_id] || m.info.source_run_id.slice(0, 8)}</Link> : <span class="muted">—</span>}</td>
              )}
              <td>
                {modelVersionsOf(m.info.tags).map((v) => (
                  <Link key={v.name + v.version} class="chip" href={`/models/${encodeURIComponent(v.name)}/versions/${v.version}`}>
                    {v.name} v{v.version}
                  </Link>
                ))}
              </td>
              {metricKeys.map((k) => (
                <td key={'m' + k} class="num mono">
                  {fmtNum(latest(m, k))}
                </td>
              ))}
              {paramKeys.map((k) => (
                <td key={'p' + k} class="mono">
                  {(m.data?.params || []).find((p) => p.key === k)?.value ?? ''}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function LoggedModelsPage({ expId }) {
  const [models, error] = useLoggedModels([expId]);
  return (
    <div class="page">
      <ExperimentHead expIds={[expId]} tab="models" />
      {error && <div class="error">{errText(error)}</div>}
      {!models ? (
        <div class="muted pad">Loading…</div>
      ) : models.length === 0 ? (
        <div class="empty" data-testid="no-logged-models">
          <b>No logged models yet.</b>
          <p class="muted">
            Models logged with <code>mlflow.&lt;flavor&gt;.log_model(model, name="…")</code> appear here, with their metrics, parameters and source run.
          </p>
        </div>
      ) : (
        <LoggedModelsTable models={models} expIds={[expId]} />
      )}
    </div>
  );
}

export function LoggedModelPage({ expId, modelId, tab, sub }) {
  const [model, setModel] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    api.getLoggedModel(modelId).then(setModel, setError);
  }, [modelId, tick]);
  if (error) return <div class="page"><div class="error">{errText(error)}</div></div>;
  if (!model) return <div class="page muted">Loading…</div>;
  const i = model.info;
  const exp = expId || i.experiment_id;
  const base = `/experiments/${exp}/models/${encodeURIComponent(i.model_id)}`;
  return (
    <div class="page">
      <div class="crumbs">
        <Link href="/">Experiments</Link> / <Link href={`/experiments/${exp}/models`}>experiment {exp} · models</Link> /
      </div>
      <div class="page-head">
        <h1 data-testid="logged-model-title">
          {i.name} <ModelStatus status={i.status} />
        </h1>
        <RegisterModel source={`models:/${i.model_id}`} runId={i.source_run_id} modelId={i.model_id} onDone={() => setTick((x) => x + 1)} />
      </div>
      <div class="tabs">
        <Link href={base} class={tab !== 'artifacts' ? 'on' : ''}>
          Overview
        </Link>
        <Link href={base + '/artifacts'} class={tab === 'artifacts' ? 'on' : ''}>
          Artifacts
        </Link>
      </div>
      {tab === 'artifacts' ? (
        <Artifacts source={proxiedSource(i.artifact_uri)} path={sub} onNavigate={(p) => navigate(base + '/artifacts/' + p.split('/').map(encodeURIComponent).join('/'))} />
      ) : (
        <LoggedModelOverview model={model} />
      )}
    </div>
  );
}

function LoggedModelOverview({ model }) {
  const i = model.info;
  // Model metrics: the source run's `system/…` metrics are on the run's system-metrics tab.
  const metrics = (model.data?.metrics || []).filter((m) => !m.key.startsWith('system/')).sort((a, b) => a.key.localeCompare(b.key) || a.step - b.step);
  const params = [...(model.data?.params || [])].sort((a, b) => a.key.localeCompare(b.key));
  const tags = (i.tags || []).filter((t) => !t.key.startsWith('mlflow.'));
  const versions = modelVersionsOf(i.tags);
  const [run, setRun] = useState(null);
  useEffect(() => {
    if (i.source_run_id) api.getRun(i.source_run_id).then(setRun, () => {});
  }, [i.source_run_id]);
  return (
    <div class="overview">
      <div class="cols2">
        <section class="card">
          <h3>Details</h3>
          <dl class="kv" data-testid="logged-model-details">
            <dt>Model ID</dt>
            <dd class="mono">{i.model_id}</dd>
            <dt>Model URI</dt>
            <dd class="mono">models:/{i.model_id}</dd>
            <dt>Created</dt>
            <dd>{fmtTime(i.creation_timestamp_ms)}</dd>
            <dt>Source run</dt>
            <dd>{i.source_run_id ? <Link href={`/experiments/${i.experiment_id}/runs/${i.source_run_id}`}>{run ? run.info.run_name : i.source_run_id}</Link> : '—'}</dd>
            {i.model_type && <dt>Type</dt>}
            {i.model_type && <dd>{i.model_type}</dd>}
            <dt>Registered</dt>
            <dd data-testid="logged-model-versions">
              {versions.length
                ? versions.map((v) => (
                    <Link key={v.name + v.version} class="chip" href={`/models/${encodeURIComponent(v.name)}/versions/${v.version}`}>
                      {v.name} v{v.version}
                    </Link>
                  ))
                : <span class="muted">not registered</span>}
            </dd>
            <dt>Artifact URI</dt>
            <dd class="mono small">{i.artifact_uri}</dd>
            {i.status_message && <dt>Status</dt>}
            {i.status_message && <dd>{i.status_message}</dd>}
          </dl>
        </section>
        <section class="card">
          <h3>Metrics ({metrics.length})</h3>
          {metrics.length ? (
            <table class="tbl compact" data-testid="logged-model-metrics">
              <tbody>
                {metrics.map((m, k) => (
                  <tr key={k}>
                    <td>{m.key}</td>
                    <td class="num mono">{fmtNum(m.value)}</td>
                    <td class="muted small">{m.dataset_name ? `${m.dataset_name}` : ''} step {m.step}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p class="muted">No metrics.</p>
          )}
        </section>
      </div>
      <div class="cols2">
        <KeyValueCard title="Parameters" rows={params} testid="logged-model-params" />
        <KeyValueCard title="Tags" rows={tags} testid="logged-model-tags" />
      </div>
      <ModelSchema artifactUri={i.artifact_uri} />
    </div>
  );
}

/** Signature and input example of a model folder (its MLmodel and input example files). */
export function ModelSchema({ artifactUri, source }) {
  const src = source || proxiedSource(artifactUri);
  const [mlmodel, setMlmodel] = useState(null);
  const [example, setExample] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setMlmodel(null);
    setExample(null);
    const get = (p) => {
      const url = src.url(p);
      return url ? fetch(url).then((r) => (r.ok ? r.text() : null)) : Promise.resolve(null);
    };
    get('MLmodel').then((text) => {
      setMlmodel(text || '');
      const m = /^saved_input_example_info:\s*$[\s\S]*?^ {2}artifact_path:\s*(\S+)\s*$/m.exec(text || '');
      if (m) get(m[1].replace(/^['"]|['"]$/g, '')).then((t) => setExample(t), () => {});
    }, setError);
  }, [src.key]);
  if (error) return <div class="error">{errText(error)}</div>;
  if (mlmodel === null) return null;
  const sig = parseSignature(mlmodel);
  return (
    <div class="cols2">
      <section class="card">
        <h3>Signature</h3>
        {sig ? (
          <div data-testid="model-signature">
            <SchemaTable title="Inputs" spec={sig.inputs} />
            <SchemaTable title="Outputs" spec={sig.outputs} />
            {sig.params && <SchemaTable title="Params" spec={sig.params} />}
          </div>
        ) : (
          <p class="muted">{mlmodel ? 'This model has no signature.' : 'No MLmodel file found.'}</p>
        )}
      </section>
      <section class="card">
        <h3>Input example</h3>
        {example ? <InputExample text={example} /> : <p class="muted">No input example was logged.</p>}
      </section>
    </div>
  );
}

function SchemaTable({ title, spec }) {
  if (!spec) return null;
  const list = Array.isArray(spec) ? spec : [spec];
  const typeOf = (c) => {
    if (c.type === 'tensor') return `tensor ${c['tensor-spec']?.dtype || ''} ${JSON.stringify(c['tensor-spec']?.shape || [])}`;
    if (c.type === 'array') return `array<${c.items?.type || '…'}>`;
    return c.type || '';
  };
  return (
    <div class="schema">
      <div class="muted small">{title}</div>
      <table class="tbl compact">
        <tbody>
          {list.map((c, k) => (
            <tr key={k}>
              <td class="mono">{c.name ?? <i class="muted">(unnamed)</i>}</td>
              <td class="mono">{typeOf(c)}</td>
              <td class="muted small">{c.required === false ? 'optional' : ''}{c.default !== undefined ? ` default ${JSON.stringify(c.default)}` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function InputExample({ text }) {
  let j = null;
  try {
    j = JSON.parse(text);
  } catch {
    /* shown as text */
  }
  if (j && Array.isArray(j.columns) && Array.isArray(j.data))
    return (
      <div class="csv-wrap" data-testid="input-example">
        <table class="tbl compact">
          <thead>
            <tr>{j.columns.map((c, k) => <th key={k}>{String(c)}</th>)}</tr>
          </thead>
          <tbody>
            {j.data.slice(0, 50).map((r, k) => (
              <tr key={k}>
                {(Array.isArray(r) ? r : [r]).map((v, x) => (
                  <td key={x} class="mono">
                    {typeof v === 'object' ? JSON.stringify(v) : String(v)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  return (
    <pre class="code" data-testid="input-example">
      {j ? JSON.stringify(j, null, 2) : text}
    </pre>
  );
}
