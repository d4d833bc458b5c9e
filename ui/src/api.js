// The UI talks to the server through the public MLflow REST API (ajax-api prefix), plus
// mlox's one own read route (run counts, /ajax-api/2.0/mlox/), which MLflow's API lacks.
import { API_BASE as BASE, ARTIFACTS_BASE } from './base.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => u.append(k, x));
    else u.append(k, String(v));
  }
  const s = u.toString();
  return s ? '?' + s : '';
}

export async function call(path, { method = 'GET', query, body, signal } = {}) {
  const url = BASE + path + (query ? qs(query) : '');
  const init = { method, signal, headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const resp = await fetch(url, init);
  const text = await resp.text();
  let json = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { message: text };
  }
  if (!resp.ok) throw new ApiError(resp.status, json.error_code || 'HTTP_' + resp.status, json.message || resp.statusText);
  return json;
}

const post = (path, body) => call(path, { method: 'POST', body });

// Experiments
export const searchExperiments = (body) => post('experiments/search', body);
export const getExperiment = (id) => call('experiments/get', { query: { experiment_id: id } }).then((r) => r.experiment);
export const createExperiment = (name) => post('experiments/create', { name });
export const renameExperiment = (id, name) => post('experiments/update', { experiment_id: id, new_name: name });
export const deleteExperiment = (id) => post('experiments/delete', { experiment_id: id });
export const restoreExperiment = (id) => post('experiments/restore', { experiment_id: id });
/** mlox's run counts: {experiment_id: {active, total}} for the given ids, in one request. */
export const runCounts = (ids) =>
  ids.length === 0
    ? Promise.resolve({})
    : call('../mlox/experiments/run-counts', { method: 'POST', body: { experiment_ids: ids } }).then((r) =>
        Object.fromEntries((r.run_counts || []).map((c) => [c.experiment_id, c])),
      );

// Runs
export const searchRuns = (body, signal) => call('runs/search', { method: 'POST', body, signal });
export const getRun = (id) => call('runs/get', { query: { run_id: id } }).then((r) => r.run);
export const renameRun = (id, name) => post('runs/update', { run_id: id, run_name: name });
export const deleteRun = (id) => post('runs/delete', { run_id: id });
export const restoreRun = (id) => post('runs/restore', { run_id: id });
export const setRunTag = (id, key, value) => post('runs/set-tag', { run_id: id, key, value });
export const deleteRunTag = (id, key) => post('runs/delete-tag', { run_id: id, key });
export const listArtifacts = (id, path) => call('artifacts/list', { query: { run_id: id, path } });

export function metricHistoryInterval({ runIds, key, maxResults, startStep, endStep }, signal) {
  return call('metrics/get-history-bulk-interval', {
    query: { run_ids: runIds, metric_key: key, max_results: maxResults, start_step: startStep, end_step: endStep },
    signal,
  }).then((r) => r.metrics || []);
}

// Model registry
export const searchRegisteredModels = (query) => call('registered-models/search', { query });
export const getRegisteredModel = (name) => call('registered-models/get', { query: { name } }).then((r) => r.registered_model);
export const searchModelVersions = (query) => call('model-versions/search', { query });
export const getModelVersion = (name, version) => call('model-versions/get', { query: { name, version } }).then((r) => r.model_version);
export const transitionStage = (name, version, stage) =>
  post('model-versions/transition-stage', { name, version, stage, archive_existing_versions: false });
export const setModelAlias = (name, alias, version) => post('registered-models/alias', { name, alias, version });
export const deleteModelAlias = (name, alias) =>
  call('registered-models/alias', { method: 'DELETE', query: { name, alias } });
const patch = (path, body) => call(path, { method: 'PATCH', body });
const del = (path, body) => call(path, { method: 'DELETE', body });
export const createRegisteredModel = (name) => post('registered-models/create', { name });
export const updateRegisteredModel = (name, description) => patch('registered-models/update', { name, description });
export const deleteRegisteredModel = (name) => del('registered-models/delete', { name });
export const setRegisteredModelTag = (name, key, value) => post('registered-models/set-tag', { name, key, value });
export const deleteRegisteredModelTag = (name, key) => del('registered-models/delete-tag', { name, key });
export const createModelVersion = (body) => post('model-versions/create', body).then((r) => r.model_version);
export const updateModelVersion = (name, version, description) => patch('model-versions/update', { name, version, description });
export const deleteModelVersion = (name, version) => del('model-versions/delete', { name, version });
export const setModelVersionTag = (name, version, key, value) => post('model-versions/set-tag', { name, version, key, value });
export const deleteModelVersionTag = (name, version, key) => del('model-versions/delete-tag', { name, version, key });

// Experiments: tags (description is the tag mlflow.note.content)
export const setExperimentTag = (experiment_id, key, value) => post('experiments/set-experiment-tag', { experiment_id, key, value });

// Logged models (MLflow 3)
export const searchLoggedModels = (body) => post('logged-models/search', body);
export const getLoggedModel = (id) => call('logged-models/' + encodeURIComponent(id)).then((r) => r.model);

// Traces (MLflow 3): the v3 endpoints the MLflow UI uses, under /ajax-api/3.0/mlflow/.
// (`/ajax-api/2.0/mlflow/../../3.0/mlflow/x` resolves to `/ajax-api/3.0/mlflow/x`.)
const call3 = (path, opts) => call('../../3.0/mlflow/' + path, opts);

/** A page of an experiment's traces (v3 search, newest first) with MLflow's trace filter. */
export function searchTraces(experimentIds, { filter, pageToken, maxResults = 50 } = {}) {
  const locations = experimentIds.map((id) => ({ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: id } }));
  return call3('traces/search', {
    method: 'POST',
    body: { locations, filter: filter || undefined, max_results: maxResults, order_by: ['timestamp_ms DESC'], page_token: pageToken || undefined },
  });
}
export const getTrace = (traceId) => call3('traces/get', { query: { trace_id: traceId } }).then((r) => r.trace);
export const logFeedback = (traceId, name, value, rationale) =>
  call3('traces/' + encodeURIComponent(traceId) + '/assessments', {
    method: 'POST',
    body: {
      assessment: {
        trace_id: traceId,
        assessment_name: name,
        source: { source_type: 'HUMAN', source_id: 'mlox-ui' },
        feedback: { value },
        rationale: rationale || undefined,
      },
    },
  }).then((r) => r.assessment);

/** Path inside the proxied artifact store of an `mlflow-artifacts:` URI, or null. */
export function proxiedPath(uri) {
  if (!uri || !uri.startsWith('mlflow-artifacts:')) return null;
  let rest = uri.slice('mlflow-artifacts:'.length);
  if (rest.startsWith('//')) {
    const i = rest.indexOf('/', 2);
    rest = i < 0 ? '' : rest.slice(i);
  }
  return rest.replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Lists a folder of the proxied artifact store (for logged models' artifacts). */
export function listProxied(path) {
  return fetch(ARTIFACTS_BASE.replace(/\/artifacts\/$/, '/artifacts') + '?path=' + encodeURIComponent(path)).then(async (r) => {
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new ApiError(r.status, j.error_code || 'HTTP_' + r.status, j.message || r.statusText);
    return j.files || [];
  });
}

/** Download URL of a file of the proxied artifact store. */
export const proxiedUrl = (path) => ARTIFACTS_BASE + path.split('/').filter(Boolean).map(encodeURIComponent).join('/');

/** URL of an artifact file for download, when the run's artifacts are proxied by this server. */
export function artifactUrl(run, path) {
  const rest = proxiedPath(run.info.artifact_uri || '');
  if (rest === null) return null;
  return proxiedUrl([rest, path].filter(Boolean).join('/'));
}
