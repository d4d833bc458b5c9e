import { useEffect, useState } from 'preact/hooks';
import * as api from '../api.js';
import { fmtBytes, errText } from '../util.js';
import { parseCsv } from '../logic.js';
import { RegisterModel } from './models.jsx';

const IMAGE = /\.(png|jpe?g|gif|svg|webp|bmp)$/i;
const PREVIEW_LIMIT = 5 * 1024 * 1024;

function kindOf(path) {
  const name = path.split('/').pop();
  if (IMAGE.test(name)) return 'image';
  if (name === 'MLmodel') return 'mlmodel';
  if (/\.html?$/i.test(name)) return 'html';
  if (/\.json$/i.test(name)) return 'json';
  if (/\.(ya?ml)$/i.test(name) || name === 'MLproject') return 'yaml';
  if (/\.(csv|tsv)$/i.test(name)) return 'csv';
  return 'text';
}

/** The artifacts of a run: listed by the tracking API, downloaded through the proxy. */
export function runSource(run) {
  return {
    key: run.info.run_id,
    runId: run.info.run_id,
    uri: run.info.artifact_uri,
    list: (path) => api.listArtifacts(run.info.run_id, path || undefined).then((r) => r.files || null),
    url: (path) => api.artifactUrl(run, path),
  };
}

/** Artifacts under an `mlflow-artifacts:` URI (a logged model's), through the proxy. */
export function proxiedSource(uri) {
  const root = api.proxiedPath(uri);
  const join = (a, b) => [a, b].filter(Boolean).join('/');
  return {
    key: uri,
    uri,
    list: (path) =>
      root === null
        ? Promise.resolve([])
        : api.listProxied(join(root, path)).then((files) => files.map((f) => ({ ...f, path: join(path, f.path) }))),
    url: (path) => (root === null ? null : api.proxiedUrl(join(root, path))),
  };
}

export function Artifacts({ run, source, path, onNavigate }) {
  const [dir, setDir] = useState(null);
  const [file, setFile] = useState(null);
  const [files, setFiles] = useState(null);
  const [error, setError] = useState(null);
  const src = source || runSource(run);

  useEffect(() => {
    setError(null);
    src.list(path).then(async (list) => {
      // A folder lists its entries; a file lists nothing (or fails): show its parent.
      if ((list && list.length) || !path) {
        setDir(path || '');
        setFiles(list || []);
        setFile(null);
      } else {
        const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
        const pl = (await src.list(parent)) || [];
        const hit = pl.find((f) => f.path === path);
        if (hit && hit.is_dir) {
          setDir(path);
          setFiles([]);
          setFile(null);
          return;
        }
        setDir(parent);
        setFiles(pl);
        setFile(hit || { path, is_dir: false });
      }
    }, setError);
  }, [src.key, path]);

  const parts = (dir || '').split('/').filter(Boolean);
  return (
    <div class="artifacts">
      {error && <div class="error">{errText(error)}</div>}
      <div class="art-list card" data-testid="artifact-list">
        <div class="crumbs small">
          <button class="link" onClick={() => onNavigate('')}>
            artifacts
          </button>
          {parts.map((p, i) => (
            <span key={i}>
              {' / '}
              <button class="link" onClick={() => onNavigate(parts.slice(0, i + 1).join('/'))}>
                {p}
              </button>
            </span>
          ))}
        </div>
        {files && files.length === 0 && <p class="muted">No artifacts here.</p>}
        {(files || [])
          .slice()
          .sort((a, b) => (b.is_dir ? 1 : 0) - (a.is_dir ? 1 : 0) || a.path.localeCompare(b.path))
          .map((f) => (
            <div key={f.path} class={'art-item' + (file && file.path === f.path ? ' on' : '')} onClick={() => onNavigate(f.path)} title={f.path}>
              <span class={'ico ' + (f.is_dir ? 'ico-dir' : 'ico-file')} /> <span class="art-name">{f.path.split('/').pop()}</span>
              <span class="muted small art-size">{f.is_dir ? '' : fmtBytes(f.file_size)}</span>
            </div>
          ))}
      </div>
      <div class="art-preview card">{file ? <Preview src={src} file={file} /> : <p class="muted">Select a file to preview it.</p>}</div>
    </div>
  );
}

function Preview({ src, file }) {
  const url = src.url(file.path);
  const kind = kindOf(file.path);
  const [text, setText] = useState(null);
  const [error, setError] = useState(null);
  const tooBig = Number(file.file_size || 0) > PREVIEW_LIMIT;
  useEffect(() => {
    setText(null);
    setError(null);
    if (!url || kind === 'image' || tooBig) return;
    fetch(url)
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`download failed: HTTP ${r.status}`))))
      .then(setText, setError);
  }, [url]);
  return (
    <div data-testid="artifact-preview" data-kind={kind}>
      <div class="preview-head">
        <b class="mono">{file.path}</b> <span class="muted small">{fmtBytes(file.file_size)}</span>
        <span class="grow" />
        {url && (
          <a class="button" href={url} download={file.path.split('/').pop()} data-testid="download">
            Download
          </a>
        )}
      </div>
      {!url && <p class="muted">These artifacts are not served by this server ({src.uri}), so they cannot be previewed here.</p>}
      {error && <div class="error">{String(error.message || error)}</div>}
      {url && tooBig && <p class="muted">Too large to preview; download it instead.</p>}
      {url && kind === 'image' && <img class="art-img" src={url} alt={file.path} />}

      {kind === 'mlmodel' && src.runId && (
        // A model saved in the run's artifacts (MLflow 2 style): register it from here.
        <div class="row register-row">
          <RegisterModel source={`runs:/${src.runId}/${file.path.split('/').slice(0, -1).join('/')}`} runId={src.runId} />
        </div>
      )}
      {text !== null && <Body kind={kind} text={text} />}
    </div>
  );
}

function Body({ kind, text }) {
  if (kind === 'json') {
    let pretty = text;
    try {
      pretty = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      /* shown as is */
    }
    return <pre class="code">{pretty}</pre>;
  }
  if (kind === 'csv') return <CsvTable text={text} />;
  if (kind === 'html')
    // Rendered as MLflow does, in a sandbox: its scripts may run (plots), but in an
    // opaque origin with no access to this app, its cookies or its API, and it cannot
    // navigate the page.
    return <iframe class="art-html" srcdoc={text} sandbox="allow-scripts" title="HTML artifact" data-testid="html-preview" />;
  if (kind === 'mlmodel') return <MlModel text={text} />;
  if (kind === 'yaml') return <Yaml text={text} />;
  return <pre class="code">{text}</pre>;
}

function Yaml({ text }) {
  return (
    <pre class="code yaml">
      {text.split('\n').map((line, i) => {
        const m = /^(\s*-?\s*)([^:#\s][^:#]*?)(:)(.*)$/.exec(line);
        return (
          <div key={i}>
            {m ? (
              <>
                {m[1]}
                <span class="y-key">{m[2]}</span>
                {m[3]}
                <span class="y-val">{m[4]}</span>
              </>
            ) : (
              line || ' '
            )}
          </div>
        );
      })}
    </pre>
  );
}

function MlModel({ text }) {
  const flavors = [];
  let inFlavors = false;
  for (const line of text.split('\n')) {
    if (/^flavors:/.test(line)) inFlavors = true;
    else if (/^\S/.test(line)) inFlavors = false;
    else if (inFlavors) {
      const m = /^ {2}([\w.-]+):/.exec(line);
      if (m) flavors.push(m[1]);
    }
  }
  const get = (k) => (new RegExp('^' + k + ':\\s*(.+)$', 'm').exec(text) || [])[1];
  return (
    <div>
      <dl class="kv" data-testid="mlmodel-summary">
        <dt>Flavors</dt>
        <dd>{flavors.map((f) => <span class="chip" key={f}>{f}</span>)}</dd>
        {get('model_uuid') && <dt>Model UUID</dt>}
        {get('model_uuid') && <dd class="mono">{get('model_uuid')}</dd>}
        {get('utc_time_created') && <dt>Created</dt>}
        {get('utc_time_created') && <dd>{get('utc_time_created').replace(/'/g, '')}</dd>}
        {get('mlflow_version') && <dt>MLflow version</dt>}
        {get('mlflow_version') && <dd>{get('mlflow_version')}</dd>}
      </dl>
      <Yaml text={text} />
    </div>
  );
}


function CsvTable({ text }) {
  const rows = parseCsv(text, text.split('\n')[0].includes('\t') ? '\t' : ',');
  const [head, ...body] = rows;
  return (
    <div class="csv-wrap">
      <table class="tbl compact" data-testid="csv-table">
        <thead>
          <tr>{(head || []).map((h, i) => <th key={i}>{h}</th>)}</tr>
        </thead>
        <tbody>
          {body.map((r, i) => (
            <tr key={i}>
              {r.map((c, j) => (
                <td key={j}>{c}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length >= 1000 && <p class="muted small">First 1,000 rows shown.</p>}
    </div>
  );
}
