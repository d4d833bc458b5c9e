// Pure functions of the UI (no DOM, no Preact), unit-tested by ui/tests/logic.test.mjs.

/** Where in the query a filter error points: [start, end) in characters, or null. */
export function errorSpan(query, message) {
  const chars = Array.from(query);
  const m = /at position (\d+)/.exec(message || '');
  if (m) {
    const p = Math.min(Number(m[1]), chars.length);
    return [p, Math.min(p + 1, Math.max(chars.length, p + 1))];
  }
  const quoted = /'([^']+)'/g;
  let q;
  while ((q = quoted.exec(message || ''))) {
    const i = query.indexOf(q[1]);
    if (i >= 0 && q[1].length > 0) {
      const start = Array.from(query.slice(0, i)).length;
      return [start, start + Array.from(q[1]).length];
    }
  }
  return null;
}

/** Exponential moving average with bias correction, as TensorBoard-style smoothing. */
export function smooth(values, weight) {
  if (!weight) return values;
  const out = new Array(values.length);
  let last = 0,
    n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || !Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n++;
    out[i] = last / (1 - Math.pow(weight, n));
  }
  return out;
}

export function groupByRun(points) {
  const byRun = new Map();
  for (const p of points) {
    let a = byRun.get(p.run_id);
    if (!a) byRun.set(p.run_id, (a = []));
    a.push(p);
  }
  for (const a of byRun.values()) a.sort((x, y) => x.step - y.step || x.timestamp - y.timestamp);
  return byRun;
}

/** Aligned uPlot data [xs, ...ys] for runs, one (or two, when smoothing) series per run. */
export function buildData(runs, byRun, xMode, smoothing, log, starts) {
  const xOf = (p, run) => (xMode === 'step' ? p.step : xMode === 'wall' ? p.timestamp / 1000 : (p.timestamp - starts[run.id]) / 1000);
  const xsSet = new Set();
  for (const run of runs) for (const p of byRun.get(run.id) || []) xsSet.add(xOf(p, run));
  const xs = Float64Array.from(xsSet).sort();
  const index = new Map();
  xs.forEach((x, i) => index.set(x, i));
  const ys = [];
  let count = 0;
  for (const run of runs) {
    const pts = byRun.get(run.id) || [];
    count += pts.length;
    let vals = pts.map((p) => {
      const v = typeof p.value === 'number' ? p.value : Number(p.value);
      return log && !(v > 0) ? null : v;
    });
    const raw = new Array(xs.length).fill(null);
    pts.forEach((p, i) => (raw[index.get(xOf(p, run))] = vals[i]));
    if (smoothing > 0) {
      const sm = new Array(xs.length).fill(null);
      const s = smooth(vals, smoothing);
      pts.forEach((p, i) => (sm[index.get(xOf(p, run))] = s[i]));
      ys.push(raw, sm);
    } else ys.push(raw);
  }
  return { data: [Array.from(xs), ...ys], count };
}

/** A CSV parser for previews: quoted fields, doubled quotes, CRLF. */
export function parseCsv(text, sep = ',', maxRows = 1000) {
  const rows = [];
  let row = [],
    field = '',
    q = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i++) {
    const c = text[i];
    if (q) {
      if (c === '"') {
        if (text[i + 1] === '"') (field += '"'), i++;
        else q = false;
      } else field += c;
    } else if (c === '"') q = true;
    else if (c === sep) (row.push(field), (field = ''));
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) (row.push(field), rows.push(row));
  return rows;
}

/**
 * The signature of an MLmodel file (YAML as MLflow writes it): {inputs, outputs, params}
 * as parsed JSON lists, or null when there is none. MLflow stores each as a quoted JSON
 * string, which PyYAML may fold over several lines.
 */
export function parseSignature(text) {
  const lines = String(text || '').split(/\r?\n/);
  const start = lines.findIndex((l) => /^signature:\s*$/.test(l));
  if (start < 0) return null;
  const out = {};
  let key = null,
    buf = [];
  const flush = () => {
    if (!key) return;
    let raw = buf.join(' ').trim();
    if (raw.startsWith("'")) raw = raw.slice(1, raw.lastIndexOf("'")).replace(/''/g, "'");
    else if (raw.startsWith('"')) {
      try {
        raw = JSON.parse(raw);
      } catch {
        raw = raw.slice(1, -1);
      }
    }
    if (raw && raw !== 'null') {
      try {
        out[key] = JSON.parse(raw);
      } catch {
        out[key] = raw;
      }
    }
    key = null;
    buf = [];
  };
  for (let i = start + 1; i < lines.length; i++) {
    const l = lines[i];
    if (l && !/^\s/.test(l)) break; // the next top-level key
    const m = /^ {2}([\w-]+):\s?(.*)$/.exec(l);
    if (m) {
      flush();
      key = m[1];
      buf = [m[2]];
    } else if (key) buf.push(l.trim());
  }
  flush();
  return Object.keys(out).length ? out : null;
}

/** The registered versions a logged model names in its `mlflow.modelVersions` tag. */
export function modelVersionsOf(tags) {
  const t = (tags || []).find((x) => x.key === 'mlflow.modelVersions');
  if (!t) return [];
  try {
    const a = JSON.parse(t.value);
    if (!Array.isArray(a)) return [];
    // MLflow's server and client each add an entry (version as a number, then a string).
    const seen = new Set();
    return a
      .filter((v) => v && v.name && v.version !== undefined)
      .map((v) => ({ name: String(v.name), version: String(v.version) }))
      .filter((v) => !seen.has(v.name + '\u0000' + v.version) && seen.add(v.name + '\u0000' + v.version));
  } catch {
    return [];
  }
}

/** `models:/m-…` (a logged model id) of a version's source, else null. */
export function loggedModelIdOf(source) {
  const m = /^models:\/(m-[0-9a-f]+)\/?$/i.exec(String(source || ''));
  return m ? m[1] : null;
}

// Images of mlflow.log_image(key=, step=): images/<key>+step+<n>+timestamp+<ms>+<uuid>.png
// (+compressed.webp thumbnails; older clients wrote % instead of +; '/' in keys became ~).
/** Parses a file name of images/; null when it is not one of log_image's. */
export function parseImageName(path) {
  const name = path.split('/').pop();
  const m = /^(.+?)([+%])step\2(-?\d+)\2timestamp\2(\d+)\2([0-9a-f-]+)(\2compressed)?\.(png|webp)$/.exec(name);
  if (!m) return null;
  return { key: m[1].replace(/~/g, '/').replace(/#/g, '/'), step: Number(m[3]), timestamp: Number(m[4]), id: m[5], compressed: !!m[6], path };
}

/** key → [{step, full, thumb}] sorted by step. */
export function groupImages(files) {
  const byId = new Map();
  for (const f of files) {
    const p = parseImageName(f.path);
    if (!p) continue;
    const e = byId.get(p.id) || { key: p.key, step: p.step, timestamp: p.timestamp };
    if (p.compressed) e.thumb = p.path;
    else e.full = p.path;
    byId.set(p.id, e);
  }
  const byKey = new Map();
  for (const e of byId.values()) {
    if (!e.full && !e.thumb) continue;
    let a = byKey.get(e.key);
    if (!a) byKey.set(e.key, (a = []));
    a.push(e);
  }
  for (const a of byKey.values()) a.sort((x, y) => x.step - y.step || x.timestamp - y.timestamp);
  return byKey;
}

