// The experiment's chart view (MLflow's "Chart" view): a panel per metric over the
// experiment's visible runs — line charts for histories (down-sampled by the server),
// bar charts for single values, scatter and parallel-coordinates panels — added, removed
// and reordered, remembered per experiment in localStorage. Line charts fetch and draw
// once they scroll near the viewport.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import * as api from '../api.js';
import { Link, useQuery } from '../router.js';
import { MetricChart, ChartControls } from '../chart.jsx';
import { fmtNum, runName, color, errText } from '../util.js';
import { ExperimentHead } from './experiment_head.jsx';
import { Scatter, Parallel } from './compare.jsx';

export const MAX_CHART_RUNS = 100;

const storeKey = (expId) => 'mlox.charts.' + expId;
function loadPanels(expId) {
  try {
    const v = JSON.parse(localStorage.getItem(storeKey(expId)));
    return Array.isArray(v) ? v.filter((k) => typeof k === 'string') : null;
  } catch {
    return null;
  }
}

/** Metric keys of runs, and which ones have a history (a step beyond 0 somewhere). */
export function metricKinds(runs) {
  const kinds = new Map();
  for (const r of runs)
    for (const m of r.data?.metrics || []) {
      const hist = Number(m.step) > 0;
      kinds.set(m.key, (kinds.get(m.key) || false) || hist);
    }
  return kinds;
}

export function ChartsPage({ expId }) {
  const q = useQuery();
  const filter = q.get('filter') || '';
  const [runs, setRuns] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(() => loadPanels(expId));
  const [xMode, setXMode] = useState('step');
  const [log, setLog] = useState(false);
  const [smoothing, setSmoothing] = useState(0);
  const [adding, setAdding] = useState('');

  useEffect(() => {
    api
      .searchRuns({ experiment_ids: [expId], filter: filter || undefined, max_results: MAX_CHART_RUNS, order_by: ['attributes.start_time DESC'] })
      .then((r) => setRuns(r.runs || []), (e) => (setRuns([]), setError(e)));
  }, [expId, filter]);

  const kinds = useMemo(() => metricKinds(runs || []), [runs]);
  const allKeys = useMemo(() => [...kinds.keys()].sort((a, b) => (a.startsWith('system/') ? 1 : 0) - (b.startsWith('system/') ? 1 : 0) || a.localeCompare(b)), [kinds]);
  const isScatter = (k) => k.startsWith(SCATTER);
  const isParallel = (k) => k.startsWith(PARALLEL);
  const panels = saved ? saved.filter((k) => kinds.has(k) || isScatter(k) || isParallel(k)) : allKeys.filter((k) => !k.startsWith('system/')).slice(0, 24);
  const save = (list) => {
    setSaved(list);
    localStorage.setItem(storeKey(expId), JSON.stringify(list));
  };
  const move = (i, d) => {
    const l = panels.slice();
    const j = i + d;
    if (j < 0 || j >= l.length) return;
    [l[i], l[j]] = [l[j], l[i]];
    save(l);
  };
  const chartRuns = (runs || []).map((r) => ({ id: r.info.run_id, name: runName(r), startTime: Number(r.info.start_time) }));
  const missing = allKeys.filter((k) => !panels.includes(k));

  return (
    <div class="page">
      <ExperimentHead expIds={[expId]} tab="charts" />
      {error && <div class="error">{errText(error)}</div>}
      <div class="toolbar">
        <ChartControls {...{ xMode, setXMode, log, setLog, smoothing, setSmoothing }} />
        <span class="grow" />
        <span class="muted" data-testid="chart-run-count">
          {runs ? `${runs.length} most recent run${runs.length === 1 ? '' : 's'}${filter ? ' matching the filter' : ''}` : 'loading…'}
        </span>
        <select value={adding} onChange={(e) => (e.target.value && save([...panels, e.target.value]), setAdding(''))} data-testid="add-chart" disabled={!missing.length}>
          <option value="">+ Add chart…</option>
          {missing.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <button onClick={() => save([...panels, SCATTER + [allKeys[0] || '', allKeys[1] || allKeys[0] || ''].join(SEP) + SEP + Date.now().toString(36)])} disabled={!allKeys.length} data-testid="add-scatter">
          + Scatter
        </button>
        <button onClick={() => save([...panels, PARALLEL + defaultAxes(runs || [], allKeys).join(SEP) + SEP + Date.now().toString(36)])} disabled={!runs || !runs.length} data-testid="add-parallel" title="Add a parallel-coordinates chart of params and metrics">
          + Parallel
        </button>
        {saved && (
          <button class="link" onClick={() => (localStorage.removeItem(storeKey(expId)), setSaved(null))} data-testid="reset-charts">
            reset
          </button>
        )}
      </div>
      {runs && runs.length > 0 && chartRuns.length <= 30 && (
        <div class="legend-row">
          {chartRuns.map((r, i) => (
            <Link key={r.id} href={`/runs/${r.id}`} class="legend-item">
              <span class="dot" style={{ background: color(i) }} />
              {r.name}
            </Link>
          ))}
        </div>
      )}
      {runs && runs.length === 0 && <div class="empty">No runs to chart{filter ? ' match this filter' : ''}.</div>}
      {runs && runs.length > 0 && panels.length === 0 && <div class="empty">No charts. Add one from “Add chart”.</div>}
      <div class="chart-grid" data-testid="chart-grid">
        {runs &&
          panels.map((k, i) => (
            <div class="card panel" key={k} data-testid="chart-panel" data-key={k}>
              <h3>
                <span class="grow ellipsis" title={k}>
                  {isScatter(k) ? 'Scatter' : isParallel(k) ? 'Parallel coordinates' : k}
                </span>
                <span class="muted small">{isScatter(k) || isParallel(k) ? 'last values' : kinds.get(k) ? 'history' : 'last value'}</span>
                <button class="icon" title="move left" onClick={() => move(i, -1)} disabled={i === 0} data-testid="panel-left">
                  ←
                </button>
                <button class="icon" title="move right" onClick={() => move(i, 1)} disabled={i === panels.length - 1} data-testid="panel-right">
                  →
                </button>
                <button class="icon danger" title="remove chart" onClick={() => save(panels.filter((x) => x !== k))} data-testid="panel-remove">
                  ✕
                </button>
              </h3>
              {isParallel(k) ? (
                <ParallelPanel runs={runs} metricKeys={allKeys} spec={k} onChange={(nk) => save(panels.map((x) => (x === k ? nk : x)))} />
              ) : isScatter(k) ? (
                <ScatterPanel runs={runs} keys={allKeys} spec={k} onChange={(nk) => save(panels.map((x) => (x === k ? nk : x)))} />
              ) : kinds.get(k) ? (
                <OnView height={220}>
                  <MetricChart runs={chartRuns} metricKey={k} xMode={xMode} log={log} smoothing={smoothing} height={220} compact />
                </OnView>
              ) : (
                <BarChart runs={runs} metricKey={k} log={log} />
              )}
            </div>
          ))}
      </div>
    </div>
  );
}

/**
 * Mounts its children (a line chart, which fetches its points) once it comes within
 * 300 px of the viewport, and keeps them: a view of many panels fetches and draws only
 * what is seen. Until then, an empty box of the chart's height.
 */
function OnView({ height, children }) {
  const ref = useRef(null);
  const [seen, setSeen] = useState(false);
  useEffect(() => {
    if (seen) return;
    const io = new IntersectionObserver((es) => es.some((e) => e.isIntersecting) && (io.disconnect(), setSeen(true)), { rootMargin: '300px' });
    io.observe(ref.current);
    return () => io.disconnect();
  }, [seen]);
  return seen ? children : <div ref={ref} style={{ height: height + 'px' }} data-testid="chart-pending" />;
}

const SCATTER = 'scatter:';
const SEP = '\u0001';

/** A scatter of two metrics' last values, one point per run; its axes are part of its key. */
function ScatterPanel({ runs, keys, spec, onChange }) {
  const [x, y, id] = spec.slice(SCATTER.length).split(SEP);
  const last = (k) => runs.map((r) => (r.data?.metrics || []).find((m) => m.key === k)?.value);
  const pick = (v, set) => (
    <select value={v} onChange={(e) => onChange(SCATTER + (set === 'x' ? [e.target.value, y, id] : [x, e.target.value, id]).join(SEP))} data-testid={'scatter-' + set + '-key'}>
      {keys.map((k) => (
        <option key={k}>{k}</option>
      ))}
    </select>
  );
  return (
    <div>
      <div class="row small">
        x {pick(x, 'x')} y {pick(y, 'y')}
      </div>
      <Scatter runs={runs} xs={last(x)} ys={last(y)} xLabel={x} yLabel={y} />
    </div>
  );
}

const PARALLEL = 'parallel:';

/** Param keys of runs, and the ones whose value differs between runs. */
function paramKeys(runs) {
  const seen = new Map();
  for (const r of runs) for (const p of r.data?.params || []) (seen.get(p.key) || seen.set(p.key, new Set()).get(p.key)).add(p.value);
  const keys = [...seen.keys()].sort();
  return { keys, varying: keys.filter((k) => seen.get(k).size > 1) };
}

/** A new panel's axes: params that vary (up to 4), then the first metrics (up to 3). */
export function defaultAxes(runs, metricKeys) {
  const { keys, varying } = paramKeys(runs);
  const params = (varying.length ? varying : keys).slice(0, 4).map((k) => 'p:' + k);
  return [...params, ...metricKeys.filter((k) => !k.startsWith('system/')).slice(0, 3).map((k) => 'm:' + k)];
}

/**
 * Parallel coordinates over the runs: one axis per chosen param or metric (last value),
 * one line per run coloured by the last axis. The axes are part of the panel's key.
 */
function ParallelPanel({ runs, metricKeys, spec, onChange }) {
  const parts = spec.slice(PARALLEL.length).split(SEP);
  const id = parts.pop();
  const axes = parts.filter(Boolean);
  const params = useMemo(() => paramKeys(runs).keys, [runs]);
  const set = (list) => onChange(PARALLEL + [...list, id].join(SEP));
  const value = (r, a) => {
    const key = a.slice(2);
    const list = a.startsWith('p:') ? r.data?.params : r.data?.metrics;
    const hit = (list || []).find((x) => x.key === key);
    return hit ? (a.startsWith('m:') ? Number(hit.value) : hit.value) : undefined;
  };
  const choices = [...params.map((k) => 'p:' + k), ...metricKeys.map((k) => 'm:' + k)].filter((a) => !axes.includes(a));
  return (
    <div>
      <div class="row small axes-pick" data-testid="parallel-axes">
        {axes.map((a) => (
          <span key={a} class="chip" data-axis={a} title={(a.startsWith('p:') ? 'param ' : 'metric ') + a.slice(2)}>
            {a.slice(2)}{' '}
            <button class="icon" title="remove axis" onClick={() => set(axes.filter((x) => x !== a))} data-testid="parallel-axis-remove">
              ✕
            </button>
          </span>
        ))}
        <select value="" onChange={(e) => e.target.value && set([...axes, e.target.value])} data-testid="parallel-add-axis" disabled={!choices.length}>
          <option value="">+ axis…</option>
          {choices.map((a) => (
            <option key={a} value={a}>
              {(a.startsWith('p:') ? 'param ' : 'metric ') + a.slice(2)}
            </option>
          ))}
        </select>
      </div>
      <Parallel runs={runs} axes={axes.map((a) => ({ label: a.slice(2), values: runs.map((r) => value(r, a)) }))} />
    </div>
  );
}

/** One bar per run: the metric's last value (single-value metrics). */
export function BarChart({ runs, metricKey, height = 220 }) {
  const ref = useRef(null);
  const [w, setW] = useState(0);
  const [hover, setHover] = useState(null);
  const bars = useRef([]);
  const values = runs.map((r) => {
    const m = (r.data?.metrics || []).find((x) => x.key === metricKey);
    return m ? Number(m.value) : null;
  });
  useEffect(() => {
    const el = ref.current.parentElement;
    const ro = new ResizeObserver(() => setW(el.clientWidth));
    ro.observe(el);
    setW(el.clientWidth);
    return () => ro.disconnect();
  }, []);
  useEffect(() => {
    const c = ref.current;
    if (!c || !w) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = w * dpr;
    c.height = height * dpr;
    c.style.width = w + 'px';
    c.style.height = height + 'px';
    const g = c.getContext('2d');
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, height);
    g.font = '11px system-ui, sans-serif';
    const finite = values.filter((v) => v !== null && Number.isFinite(v));
    const pad = { l: 58, r: 8, t: 8, b: 8 };
    const ph = height - pad.t - pad.b;
    const pw = w - pad.l - pad.r;
    let lo = Math.min(0, ...finite),
      hi = Math.max(0, ...finite);
    if (lo === hi) hi = lo + 1;
    const y = (v) => pad.t + ((hi - v) / (hi - lo)) * ph;
    // Axis: zero line and the extremes.
    g.fillStyle = '#64748b';
    g.textAlign = 'right';
    g.fillText(fmtNum(hi), pad.l - 6, pad.t + 8);
    g.fillText(fmtNum(lo), pad.l - 6, pad.t + ph);
    g.strokeStyle = '#eef2f7';
    for (let k = 0; k <= 4; k++) {
      const yy = pad.t + (k * ph) / 4;
      g.beginPath();
      g.moveTo(pad.l, yy);
      g.lineTo(w - pad.r, yy);
      g.stroke();
    }
    g.strokeStyle = '#94a3b8';
    g.beginPath();
    g.moveTo(pad.l, y(0));
    g.lineTo(w - pad.r, y(0));
    g.stroke();
    const n = values.length;
    const slot = pw / Math.max(n, 1);
    const bw = Math.max(1, Math.min(40, slot * 0.8));
    const out = [];
    values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      const x = pad.l + i * slot + (slot - bw) / 2;
      const top = Math.min(y(v), y(0));
      const h = Math.max(1, Math.abs(y(v) - y(0)));
      g.fillStyle = color(i);
      g.fillRect(x, top, bw, h);
      out.push({ x, w: bw, top, h, i });
    });
    bars.current = out;
    c.dataset.bars = String(out.length);
  }, [w, height, metricKey, values.join('|')]);
  const onMove = (e) => {
    const b = e.currentTarget.getBoundingClientRect();
    const mx = e.clientX - b.left;
    const hit = bars.current.find((p) => mx >= p.x - 1 && mx <= p.x + p.w + 1);
    setHover(hit ? { x: hit.x + hit.w / 2, y: hit.top, i: hit.i } : null);
  };
  return (
    <div class="canvas-box">
      <canvas ref={ref} onMouseMove={onMove} onMouseLeave={() => setHover(null)} data-testid="bar-chart" data-metric={metricKey} />
      {hover && (
        <div class="tip" style={{ left: Math.min(hover.x + 8, w - 160) + 'px', top: Math.max(hover.y - 10, 0) + 'px' }}>
          <b>{runName(runs[hover.i])}</b>
          <br />
          {metricKey}: {fmtNum(values[hover.i])}
        </div>
      )}
    </div>
  );
}
