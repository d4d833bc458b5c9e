import { useEffect, useState } from 'preact/hooks';
import * as api from '../api.js';
import { fmtBytes, errText } from '../util.js';
import { parseCsv } from '../logic.js';

const IMAGE = /\.(png|jpe?g|gif|svg|webp|bmp)$/i;
const PREVIEW_LIMIT = 5 * 1024 * 1024;

function kindOf(path) {
  const name = path.split('/').pop();
  if (IMAGE.test(name)) return 'image';
  if (name === 'MLmodel') return 'mlmodel';
  if (/\.json$/i.test(name)) return 'json';
  if (/\.(ya?ml)$/i.test(name) || name === 'MLproject') return 'yaml';
  if (/\.(csv|tsv)$/i.test(name)) return 'csv';
  return 'text';
}

export function Artifacts({ run, path, onNavigate }) {
  const [dir, setDir] = useState(null);
  const [file, setFile] = useState(null);
  const [files, setFiles] = useState(null);
  const [error, setError] = useState(null);
  const id = run.info.run_id;

  useEffect(() => {
    setError(null);
    api.listArtifacts(id, path || undefined).then(async (r) => {
      if (r.files || !path) {
        setDir(path || '');
        setFiles(r.files || []);
        setFile(null);
      } else {
        const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
        const pr = await api.listArtifacts(id, parent || undefined);
        setDir(parent);
        setFiles(pr.files || []);
        setFile((pr.files || []).find((f) => f.path === path) || { path, is_dir: false });
      }
    }, setError);
  }, [id, path]);

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
            <div key={f.path} class={'art-item' + (file && file.path === f.path ? ' on' : '')} onClick={() => onNavigate(f.path)}>
              <span class={'ico ' + (f.is_dir ? 'ico-dir' : 'ico-file')} /> <span class="grow">{f.path.split('/').pop()}</span>
              <span class="muted small">{f.is_dir ? '' : fmtBytes(f.file_size)}</span>
            </div>
          ))}
      </div>
      <div class="art-preview card">{file ? <Preview run={run} file={file} /> : <p class="muted">Select a file to preview it.</p>}</div>
    </div>
  );
}

function Preview({ run, file }) {
  const url = api.artifactUrl(run, file.path);
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
      {!url && <p class="muted">This run's artifacts are not served by this server ({run.info.artifact_uri}), so they cannot be previewed here.</p>}
      {error && <div class="error">{String(error.message || error)}</div>}
      {url && tooBig && <p class="muted">Too large to preview; download it instead.</p>}
      {url && kind === 'image' && <img class="art-img" src={url} alt={file.path} />}
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
