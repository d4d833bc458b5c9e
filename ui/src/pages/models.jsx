import { useEffect, useState } from 'preact/hooks';
import * as api from '../api.js';
import { Link, navigate, setQuery, useQuery } from '../router.js';
import { fmtTime, errText } from '../util.js';
import { loggedModelIdOf } from '../logic.js';
import { DescriptionCard, TagsCard } from '../widgets.jsx';
import { ModelSchema } from './logged_models.jsx';
import { proxiedSource } from './artifacts.jsx';
import { PermissionsPanel } from './auth.jsx';

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
  const refresh = () => setTick((x) => x + 1);
  useEffect(() => {
    api.getRegisteredModel(name).then(setModel, setError);
    api
      .searchModelVersions({ filter: `name = '${q1(name)}'`, max_results: 1000, order_by: 'version_number DESC' })
      .then((r) => setVersions(r.model_versions || []), setError);
  }, [name, tick]);
  if (error && !model) return <div class="page"><div class="error">{errText(error)}</div></div>;
  if (!model) return <div class="page muted">Loading…</div>;
  const aliasesOf = (v) => (model.aliases || []).filter((a) => a.version === v).map((a) => a.alias);
  const after = (p) => p.then(refresh);
  return (
    <div class="page">
      <div class="crumbs">
        <Link href="/models">Models</Link> /
      </div>
      <div class="page-head">
        <h1 data-testid="model-title">{model.name}</h1>
        <button
          class="danger"
          data-testid="delete-model"
          onClick={() =>
            confirm(`Delete model “${model.name}” and its ${versions ? versions.length : ''} version(s)? This cannot be undone.`) &&
            api.deleteRegisteredModel(model.name).then(() => navigate('/models'), setError)
          }
        >
          Delete model
        </button>
      </div>
      {error && <div class="error">{errText(error)}</div>}
      <PermissionsPanel resourceType="registered_model" resourceId={model.name} />
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
              {(model.aliases || []).length ? (
                (model.aliases || []).map((a) => (
                  <span key={a.alias} class="chip alias">
                    @{a.alias} → v{a.version}
                  </span>
                ))
              ) : (
                <span class="muted">none</span>
              )}
            </dd>
          </dl>
        </section>
        <DescriptionCard value={model.description} onSave={(d) => after(api.updateRegisteredModel(name, d))} testid="model-description" />
      </div>
      <div class="cols2">
        <TagsCard tags={model.tags} onSet={(k, v) => after(api.setRegisteredModelTag(name, k, v))} onDelete={(k) => after(api.deleteRegisteredModelTag(name, k))} testid="model-tags" hidePrefix="" />
        <div />
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
              <th>Source</th>
              <th class="nowrap">Created</th>
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
                  <StageSelect v={v} onDone={refresh} onError={setError} />
                </td>
                <td>
                  {aliasesOf(v.version).map((a) => (
                    <span key={a} class="chip alias">
                      @{a}
                    </span>
                  ))}
                </td>
                <td>{v.status}</td>
                <td>
                  <VersionSource v={v} short />
                </td>
                <td class="nowrap">{fmtTime(v.creation_timestamp)}</td>
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

/** A version's source: its run and, for MLflow 3 sources (`models:/m-…`), its logged model. */
function VersionSource({ v, short }) {
  const mid = loggedModelIdOf(v.source);
  const [lm, setLm] = useState(null);
  useEffect(() => {
    if (mid) api.getLoggedModel(mid).then(setLm, () => {});
  }, [mid]);
  return (
    <span class="vsource">
      {v.run_id && (
        <Link href={'/runs/' + v.run_id} class="mono" title="source run">
          {short ? v.run_id.slice(0, 12) : v.run_id}
        </Link>
      )}
      {mid && (
        <Link
          href={lm ? `/experiments/${lm.info.experiment_id}/models/${mid}` : `/logged-models/${mid}`}
          class="chip lm-chip"
          title="logged model"
          data-testid="version-logged-model"
        >
          {lm ? lm.info.name : 'logged model'} · {mid.slice(0, 10)}…
        </Link>
      )}
      {!v.run_id && !mid && <span class="muted small mono">{v.source}</span>}
    </span>
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
  const [files, setFiles] = useState(null);
  const refresh = () => setTick((x) => x + 1);
  useEffect(() => {
    api.getModelVersion(name, version).then(setV, setError);
  }, [name, version, tick]);
  useEffect(() => {
    // Where the version's files are: MLflow's download URI, read through the proxy.
    api.call('model-versions/get-download-uri', { query: { name, version } }).then((r) => setFiles(r.artifact_uri || ''), () => setFiles(''));
  }, [name, version]);
  if (error && !v) return <div class="page"><div class="error">{errText(error)}</div></div>;
  if (!v) return <div class="page muted">Loading…</div>;
  const after = (p) => p.then(refresh);
  return (
    <div class="page">
      <div class="crumbs">
        <Link href="/models">Models</Link> / <Link href={'/models/' + encodeURIComponent(name)}>{name}</Link> /
      </div>
      <div class="page-head">
        <h1 data-testid="version-title">
          {name} <span class="muted">version {v.version}</span>
        </h1>
        <button
          class="danger"
          data-testid="delete-version"
          onClick={() => confirm(`Delete version ${v.version} of “${name}”? This cannot be undone.`) && api.deleteModelVersion(name, v.version).then(() => navigate('/models/' + encodeURIComponent(name)), setError)}
        >
          Delete version
        </button>
      </div>
      {error && <div class="error">{errText(error)}</div>}
      <div class="cols2">
        <section class="card">
          <h3>Details</h3>
          <dl class="kv">
            <dt>Stage</dt>
            <dd>
              <StageSelect v={v} onDone={refresh} onError={setError} />
            </dd>
            <dt>Status</dt>
            <dd>{v.status}</dd>
            <dt>Source</dt>
            <dd>
              <VersionSource v={v} />
              <div class="mono small muted">{v.source}</div>
            </dd>
            <dt>Created</dt>
            <dd>{fmtTime(v.creation_timestamp)}</dd>
            <dt>Last modified</dt>
            <dd>{fmtTime(v.last_updated_timestamp)}</dd>
            <dt>Aliases</dt>
            <dd>
              {(v.aliases || []).map((a) => (
                <span key={a} class="chip alias">
                  @{a}{' '}
                  <button class="link danger" title="remove alias" onClick={() => api.deleteModelAlias(name, a).then(refresh, setError)}>
                    ✕
                  </button>
                </span>
              ))}
              <form class="inline" onSubmit={(e) => (e.preventDefault(), alias.trim() && api.setModelAlias(name, alias.trim(), v.version).then(() => (setAlias(''), refresh()), setError))}>
                <input placeholder="new alias" value={alias} onInput={(e) => setAlias(e.target.value)} size="10" />
                <button type="submit">Set</button>
              </form>
            </dd>
          </dl>
        </section>
        <DescriptionCard value={v.description} onSave={(d) => after(api.updateModelVersion(name, v.version, d))} testid="version-description" />
      </div>
      <div class="cols2">
        <TagsCard tags={v.tags} onSet={(k, val) => after(api.setModelVersionTag(name, v.version, k, val))} onDelete={(k) => after(api.deleteModelVersionTag(name, v.version, k))} testid="version-tags" hidePrefix="" />
        <div />
      </div>
      {files && <ModelSchema source={proxiedSource(files)} />}
    </div>
  );
}

/**
 * "Register model": a version of a new or existing registered model from a model source
 * (`models:/m-…` or `runs:/<run>/<path>`), as MLflow's register dialog does.
 */
export function RegisterModel({ source, runId, modelId, onDone }) {
  const [open, setOpen] = useState(false);
  const [names, setNames] = useState([]);
  const [choice, setChoice] = useState('');
  const [newName, setNewName] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (open) api.searchRegisteredModels({ max_results: 1000, order_by: 'name ASC' }).then((r) => setNames((r.registered_models || []).map((m) => m.name)), setError);
  }, [open]);
  const register = async () => {
    const name = choice === '' ? newName.trim() : choice;
    if (!name) return;
    setBusy(true);
    try {
      if (choice === '') await api.createRegisteredModel(name);
      // The server adds the version to the logged model's `mlflow.modelVersions` tag.
      const mv = await api.createModelVersion({ name, source, run_id: runId || undefined, model_id: modelId || undefined });
      setOpen(false);
      onDone && onDone(mv);
      navigate(`/models/${encodeURIComponent(name)}/versions/${mv.version}`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="dropdown">
      <button class="primary" onClick={() => setOpen(!open)} data-testid="register-model">
        Register model
      </button>
      {open && (
        <div class="menu register" data-testid="register-menu">
          <div class="muted small">
            Source <span class="mono">{source}</span>
          </div>
          <label class="field">
            Model
            <select value={choice} onChange={(e) => setChoice(e.target.value)} data-testid="register-choice">
              <option value="">+ Create new model</option>
              {names.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          {choice === '' && (
            <label class="field">
              Name
              <input value={newName} onInput={(e) => setNewName(e.target.value)} placeholder="new model name" data-testid="register-name" />
            </label>
          )}
          {error && <div class="error">{errText(error)}</div>}
          <div class="row">
            <button class="primary" disabled={busy || (choice === '' && !newName.trim())} onClick={register} data-testid="register-submit">
              Register
            </button>
            <button onClick={() => setOpen(false)}>Cancel</button>
          </div>
        </div>
      )}
    </div>
  );
}
