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
