import { useEffect, useState } from 'preact/hooks';
import * as api from '../api.js';
import { Link, setQuery, useQuery } from '../router.js';
import { fmtTime, errText } from '../util.js';
import { safeMarkdown } from './run.jsx';

const STAGES = ['None', 'Staging', 'Production', 'Archived'];
const q1 = (s) => s.replace(/'/g, "\\'");

export function ModelsPage() {
  const q = useQuery();
  const search = q.get('q') || '';
  const [text, setText] = useState(search);
  const [models, setModels] = useState(null);
  const [token, setToken] = useState(null);
  const [error, setError] = useState(null);
  const query = (page_token) => ({ max_results: 100, filter: search ? `name ILIKE '%${q1(search)}%'` : undefined, order_by: 'name ASC', page_token });
  useEffect(() => {
    api.searchRegisteredModels(query()).then((r) => (setModels(r.registered_models || []), setToken(r.next_page_token || null), setError(null)), setError);
  }, [search]);
  return (
    <div class="page">
      <div class="page-head">
        <h1>Registered models</h1>
      </div>
      <form class="toolbar" onSubmit={(e) => (e.preventDefault(), setQuery({ q: text }))}>
        <input class="grow" placeholder="Search models by name" value={text} onInput={(e) => setText(e.target.value)} data-testid="model-search" />
        <button type="submit">Search</button>
      </form>
      {error && <div class="error">{errText(error)}</div>}
      {models && models.length === 0 && <p class="muted pad">No registered models{search ? ` matching “${search}”` : ''}.</p>}
      {models && models.length > 0 && (
        <table class="tbl" data-testid="models">
          <thead>
            <tr>
              <th>Name</th>
              <th>Latest versions</th>
              <th>Aliases</th>
              <th>Tags</th>
              <th>Last modified</th>
            </tr>
          </thead>
          <tbody>
            {models.map((m) => (
              <tr key={m.name}>
                <td>
                  <Link href={'/models/' + encodeURIComponent(m.name)}>{m.name}</Link>
                </td>
                <td>
                  {(m.latest_versions || []).map((v) => (
                    <Link key={v.version} class="chip" href={`/models/${encodeURIComponent(m.name)}/versions/${v.version}`}>
                      v{v.version}
                      {v.current_stage && v.current_stage !== 'None' ? ' · ' + v.current_stage : ''}
                    </Link>
                  ))}
                </td>
                <td>
                  {(m.aliases || []).map((a) => (
                    <span key={a.alias} class="chip alias">
                      @{a.alias} → v{a.version}
                    </span>
                  ))}
                </td>
                <td class="small">
                  {(m.tags || []).map((t) => (
                    <span key={t.key} class="chip">
                      {t.key}={t.value}
                    </span>
                  ))}
                </td>
                <td>{fmtTime(m.last_updated_timestamp)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {token && (
        <button
          class="more"
          onClick={() => api.searchRegisteredModels(query(token)).then((r) => (setModels([...models, ...(r.registered_models || [])]), setToken(r.next_page_token || null)), setError)}
        >
          Load more
        </button>
      )}
    </div>
  );
}

export function ModelPage({ name }) {
  const [model, setModel] = useState(null);
  const [versions, setVersions] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    api.getRegisteredModel(name).then(setModel, setError);
    api
      .searchModelVersions({ filter: `name = '${q1(name)}'`, max_results: 1000, order_by: 'version_number DESC' })
      .then((r) => setVersions(r.model_versions || []), setError);
  }, [name, tick]);
  if (error) return <div class="page"><div class="error">{errText(error)}</div></div>;
  if (!model) return <div class="page muted">Loading…</div>;
  const aliasesOf = (v) => (model.aliases || []).filter((a) => a.version === v).map((a) => a.alias);
  return (
    <div class="page">
      <div class="crumbs">
        <Link href="/models">Models</Link> /
      </div>
      <h1 data-testid="model-title">{model.name}</h1>
      <div class="cols2">
        <section class="card">
          <h3>Details</h3>
          <dl class="kv">
            <dt>Created</dt>
            <dd>{fmtTime(model.creation_timestamp)}</dd>
            <dt>Last modified</dt>
            <dd>{fmtTime(model.last_updated_timestamp)}</dd>
            <dt>Aliases</dt>
            <dd>
              {(model.aliases || []).map((a) => (
                <span key={a.alias} class="chip alias">
                  @{a.alias} → v{a.version}
                </span>
              ))}
            </dd>
            <dt>Tags</dt>
            <dd>
              {(model.tags || []).map((t) => (
                <span key={t.key} class="chip">
                  {t.key}={t.value}
                </span>
              ))}
            </dd>
          </dl>
        </section>
        <section class="card">
          <h3>Description</h3>
          {model.description ? <div class="markdown" dangerouslySetInnerHTML={{ __html: safeMarkdown(model.description) }} /> : <p class="muted">No description.</p>}
        </section>
      </div>
      <section class="card">
        <h3>Versions ({versions ? versions.length : '…'})</h3>
        <table class="tbl" data-testid="model-versions">
          <thead>
            <tr>
              <th>Version</th>
              <th>Stage</th>
              <th>Aliases</th>
              <th>Status</th>
              <th>Source run</th>
              <th>Created</th>
              <th>Tags</th>
            </tr>
          </thead>
          <tbody>
            {(versions || []).map((v) => (
              <tr key={v.version}>
                <td>
                  <Link href={`/models/${encodeURIComponent(name)}/versions/${v.version}`}>Version {v.version}</Link>
                </td>
                <td>
                  <StageSelect v={v} onDone={() => setTick((x) => x + 1)} onError={setError} />
                </td>
                <td>
                  {aliasesOf(v.version).map((a) => (
                    <span key={a} class="chip alias">
                      @{a}
                    </span>
                  ))}
                </td>
                <td>{v.status}</td>
                <td>{v.run_id ? <Link href={'/runs/' + v.run_id} class="mono">{v.run_id.slice(0, 12)}</Link> : <span class="muted small">{v.source}</span>}</td>
                <td>{fmtTime(v.creation_timestamp)}</td>
                <td class="small">
                  {(v.tags || []).map((t) => (
                    <span key={t.key} class="chip">
                      {t.key}={t.value}
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

function StageSelect({ v, onDone, onError }) {
  return (
    <select
      value={v.current_stage || 'None'}
      onChange={(e) => api.transitionStage(v.name, v.version, e.target.value).then(onDone, onError)}
      class={'stage st-' + (v.current_stage || 'None')}
    >
      {STAGES.map((s) => (
        <option key={s}>{s}</option>
      ))}
    </select>
  );
}

export function ModelVersionPage({ name, version }) {
  const [v, setV] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  const [alias, setAlias] = useState('');
  useEffect(() => {
    api.getModelVersion(name, version).then(setV, setError);
  }, [name, version, tick]);
  if (error && !v) return <div class="page"><div class="error">{errText(error)}</div></div>;
  if (!v) return <div class="page muted">Loading…</div>;
  return (
    <div class="page">
      <div class="crumbs">
        <Link href="/models">Models</Link> / <Link href={'/models/' + encodeURIComponent(name)}>{name}</Link> /
      </div>
      <h1 data-testid="version-title">
        {name} <span class="muted">version {v.version}</span>
      </h1>
      {error && <div class="error">{errText(error)}</div>}
      <div class="cols2">
        <section class="card">
          <h3>Details</h3>
          <dl class="kv">
            <dt>Stage</dt>
            <dd>
              <StageSelect v={v} onDone={() => setTick((x) => x + 1)} onError={setError} />
            </dd>
            <dt>Status</dt>
            <dd>{v.status}</dd>
            <dt>Source run</dt>
            <dd>{v.run_id ? <Link href={'/runs/' + v.run_id}>{v.run_id}</Link> : '—'}</dd>
            <dt>Source</dt>
            <dd class="mono small">{v.source}</dd>
            <dt>Created</dt>
            <dd>{fmtTime(v.creation_timestamp)}</dd>
            <dt>Last modified</dt>
            <dd>{fmtTime(v.last_updated_timestamp)}</dd>
            <dt>Aliases</dt>
            <dd>
              {(v.aliases || []).map((a) => (
                <span key={a} class="chip alias">
                  @{a}{' '}
                  <button class="link danger" title="remove alias" onClick={() => api.deleteModelAlias(name, a).then(() => setTick((x) => x + 1), setError)}>
                    ✕
                  </button>
                </span>
              ))}
              <form class="inline" onSubmit={(e) => (e.preventDefault(), alias.trim() && api.setModelAlias(name, alias.trim(), v.version).then(() => (setAlias(''), setTick((x) => x + 1)), setError))}>
                <input placeholder="new alias" value={alias} onInput={(e) => setAlias(e.target.value)} size="10" />
                <button type="submit">Set</button>
              </form>
            </dd>
            <dt>Tags</dt>
            <dd>
              {(v.tags || []).map((t) => (
                <span key={t.key} class="chip">
                  {t.key}={t.value}
                </span>
              ))}
            </dd>
          </dl>
        </section>
        <section class="card">
          <h3>Description</h3>
          {v.description ? <div class="markdown" dangerouslySetInnerHTML={{ __html: safeMarkdown(v.description) }} /> : <p class="muted">No description.</p>}
        </section>
      </div>
    </div>
  );
}
