export function fmtTime(ms) {
  if (ms === undefined || ms === null || ms === '') return '';
  const d = new Date(Number(ms));
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtDuration(start, end) {
  if (!start) return '';
  const ms = (end ? Number(end) : Date.now()) - Number(start);
  if (ms < 0) return '';
  if (ms < 1000) return ms + 'ms';
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function fmtNum(v) {
  if (v === undefined || v === null || v === '') return '';
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const a = Math.abs(n);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return n.toExponential(4);
  return String(Number(n.toPrecision(6)));
}

export function fmtBytes(n) {
  if (n === undefined || n === null) return '';
  n = Number(n);
  if (n < 1024) return n + ' B';
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let i = -1;
  do {
    n /= 1024;
    i++;
  } while (n >= 1024 && i < u.length - 1);
  return n.toFixed(1) + ' ' + u[i];
}

export const kv = (list) => Object.fromEntries((list || []).map((x) => [x.key, x.value]));

/** A run's data as plain maps: params, latest metrics, tags. */
export function runMaps(run) {
  const d = run.data || {};
  return {
    params: kv(d.params),
    metrics: Object.fromEntries((d.metrics || []).map((m) => [m.key, m.value])),
    tags: kv(d.tags),
  };
}

export function runName(run) {
  return run.info.run_name || (run.data?.tags || []).find((t) => t.key === 'mlflow.runName')?.value || run.info.run_id.slice(0, 8);
}

/** Quotes a key for the filter / order_by language. */
export const bq = (k) => '`' + k.replace(/`/g, '') + '`';

export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#4f46e5', '#0d9488', '#9333ea'];
export const color = (i) => PALETTE[i % PALETTE.length];

export function errText(e) {
  return e ? (e.code ? `${e.code}: ${e.message}` : String(e.message || e)) : '';
}
