import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import * as api from '../api.js';
import { Link, useQuery, listParam } from '../router.js';
import { MetricChart, ChartControls } from '../chart.jsx';
import { fmtNum, runName, runMaps, color, errText } from '../util.js';
import { BarChart, metricKinds } from './charts.jsx';

async function fetchRuns(ids, exps) {
  if (exps.length) {
    const out = [];
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      const r = await api.searchRuns({
        experiment_ids: exps,
        filter: `attributes.run_id IN (${chunk.map((x) => `'${x}'`).join(',')})`,
        run_view_type: 'ALL',
        max_results: 1000,
      });
      out.push(...(r.runs || []));
    }
    const byId = new Map(out.map((r) => [r.info.run_id, r]));
    if (ids.every((id) => byId.has(id))) return ids.map((id) => byId.get(id));
  }
  return Promise.all(ids.map((id) => api.getRun(id)));
}

export function ComparePage({ metric }) {
  const q = useQuery();
  // mlox: ?runs=a,b&exps=1 · MLflow: ?runs=["a","b"]&experiments=["1"]
  const ids = listParam(q.get('runs'));
  const exps = listParam(q.get('exps') || q.get('experiments'));
  const [runs, setRuns] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    fetchRuns(ids, exps).then(setRuns, setError);
  }, [q.get('runs')]);
  if (error) return <div class="page"><div class="error">{errText(error)}</div></div>;
  if (!runs) return <div class="page muted">Loading…</div>;
  return <Compare runs={runs} exps={exps} initialMetric={metric} />;
}

function isNum(v) {
  return v !== undefined && v !== null && v !== '' && Number.isFinite(Number(v));
}

function Compare({ runs, exps, initialMetric }) {
  const maps = useMemo(() => runs.map(runMaps), [runs]);
  const paramKeys = useMemo(() => [...new Set(maps.flatMap((m) => Object.keys(m.params)))].sort(), [maps]);
  const metricKeys = useMemo(() => [...new Set(maps.flatMap((m) => Object.keys(m.metrics)))].sort(), [maps]);
  const [onlyDiff, setOnlyDiff] = useState(false);
  const differs = (g, k) => new Set(maps.map((m) => String(m[g][k] ?? '∅'))).size > 1;
  const fields = [...paramKeys.map((k) => ['params', k]), ...metricKeys.map((k) => ['metrics', k])];
  const value = (i, [g, k]) => maps[i][g][k];
  const label = ([g, k]) => (g === 'params' ? 'param ' : 'metric ') + k;

  // Single-value metrics (no step beyond 0) are bars, one per run, not lone dots at x=0.
  const kinds = useMemo(() => metricKinds(runs), [runs]);
  const [metric, setMetric] = useState(initialMetric && metricKeys.includes(initialMetric) ? initialMetric : metricKeys[0] || '');
  const [xMode, setXMode] = useState('step');
  const [log, setLog] = useState(false);
  const [smoothing, setSmoothing] = useState(0);
  const chartRuns = runs.slice(0, 100).map((r) => ({ id: r.info.run_id, name: runName(r), startTime: Number(r.info.start_time) }));

  const varying = fields.filter(([g, k]) => differs(g, k));
  const [axes, setAxes] = useState(() => (varying.length ? varying : fields).slice(0, 8).map((f) => f.join(':')));
  const fieldOf = (s) => [s.slice(0, s.indexOf(':')), s.slice(s.indexOf(':') + 1)];
  const [sx, setSx] = useState(() => (varying[0] || fields[0] || []).join(':'));
  const [sy, setSy] = useState(() => (metricKeys.length ? 'metrics:' + metricKeys[0] : (fields[1] || fields[0] || []).join(':')));

  const options = fields.map((f) => (
    <option key={f.join(':')} value={f.join(':')}>
      {label(f)}
    </option>
  ));

  return (
    <div class="page">
      <div class="crumbs">
        {exps.length ? <Link href={'/experiments/' + exps.join(',')}>Runs</Link> : <Link href="/">Experiments</Link>} /
      </div>
      <h1 data-testid="compare-title">Comparing {runs.length} runs</h1>

      <section class="card">
        <h3>
          Metric{' '}
          <select value={metric} onChange={(e) => setMetric(e.target.value)} data-testid="compare-metric">
            {metricKeys.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
          {runs.length > 100 && <span class="muted small"> (first 100 runs)</span>}
        </h3>
        <ChartControls {...{ xMode, setXMode, log, setLog, smoothing, setSmoothing }} />
        {metric && (kinds.get(metric) ? <MetricChart runs={chartRuns} metricKey={metric} xMode={xMode} log={log} smoothing={smoothing} height={320} /> : <BarChart runs={runs.slice(0, 100)} metricKey={metric} height={280} />)}
      </section>

      <div class="cols2">
        <section class="card">
          <h3>
            Scatter{' '}
            <select value={sx} onChange={(e) => setSx(e.target.value)} data-testid="scatter-x">
              {options}
            </select>{' '}
            vs{' '}
            <select value={sy} onChange={(e) => setSy(e.target.value)} data-testid="scatter-y">
              {options}
            </select>
          </h3>
          <Scatter runs={runs} xs={runs.map((_, i) => value(i, fieldOf(sx)))} ys={runs.map((_, i) => value(i, fieldOf(sy)))} xLabel={label(fieldOf(sx))} yLabel={label(fieldOf(sy))} />
        </section>
        <section class="card">
          <h3>Parallel coordinates</h3>
          <div class="axes-pick small">
            {fields.slice(0, 200).map((f) => {
              const id = f.join(':');
              return (
                <label key={id} class="chk">
                  <input type="checkbox" checked={axes.includes(id)} onChange={() => setAxes(axes.includes(id) ? axes.filter((a) => a !== id) : [...axes, id])} />
                  {label(f)}
                </label>
              );
            })}
          </div>
          <Parallel runs={runs} axes={axes.map(fieldOf).map((f) => ({ label: f[1], values: runs.map((_, i) => value(i, f)) }))} />
        </section>
      </div>

      <section class="card">
        <h3>
          Parameters and metrics{' '}
          <label class="chk small">
            <input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff(e.target.checked)} data-testid="only-diff" /> only differences
          </label>
        </h3>
        <div class="cmp-wrap">
          <table class="tbl compact cmp" data-testid="compare-table">
            <thead>
              <tr>
                <th class="sticky-col">Run</th>
                {runs.map((r, i) => (
                  <th key={r.info.run_id}>
                    <span class="dot" style={{ background: color(i) }} />
                    <Link href={'/runs/' + r.info.run_id}>{runName(r)}</Link>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {fields
                .filter(([g, k]) => !onlyDiff || differs(g, k))
                .map((f) => {
                  const d = differs(f[0], f[1]);
                  return (
                    <tr key={f.join(':')} class={d ? 'diff' : ''} data-diff={d ? '1' : '0'}>
                      <th class="sticky-col">
                        <span class={f[0] === 'params' ? 'h-param' : 'h-metric'}>{f[0] === 'params' ? 'param' : 'metric'}</span> {f[1]}
                      </th>
                      {runs.map((r, i) => (
                        <td key={r.info.run_id} class="mono">
                          {f[0] === 'metrics' ? fmtNum(value(i, f)) : value(i, f)}
                        </td>
                      ))}
                    </tr>
                  );
                })}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}

/**
 * A numeric or categorical scale mapping values to [0, 1]. ticks: [low, high] labels;
 * a single value (constant metric, one category) sits in the middle with one label, mid.
 */
export function scale(values) {
  const present = values.filter((v) => v !== undefined && v !== null && v !== '');
  if (present.length && present.every(isNum)) {
    const nums = present.map(Number);
    const lo = Math.min(...nums),
      hi = Math.max(...nums);
    if (lo === hi) return { f: (v) => (isNum(v) ? 0.5 : null), ticks: ['', ''], mid: fmtNum(lo), numeric: true };
    return { f: (v) => (isNum(v) ? (Number(v) - lo) / (hi - lo) : null), ticks: [fmtNum(lo), fmtNum(hi)], numeric: true };
  }
  const cats = [...new Set(present.map(String))].sort();
  const n = Math.max(cats.length - 1, 1);
  if (cats.length === 1) return { f: (v) => (v === undefined || v === null ? null : 0.5), ticks: ['', ''], mid: cats[0], cats };
  return { f: (v) => (v === undefined || v === null ? null : cats.indexOf(String(v)) / n), ticks: [cats[0] ?? '', cats[cats.length - 1] ?? ''], cats };
}

const clip = (t, n = 16) => (String(t).length > n ? String(t).slice(0, n - 1) + '…' : String(t));

function useCanvas(draw, deps, height) {
  const ref = useRef(null);
  const [w, setW] = useState(0);
  useEffect(() => {
    const ro = new ResizeObserver(() => ref.current && setW(ref.current.parentElement.clientWidth));
    ro.observe(ref.current.parentElement);
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
    draw(g, w, height);
  }, [w, ...deps]);
  return ref;
}

export function Scatter({ runs, xs, ys, xLabel, yLabel }) {
  const H = 300;
  const [hover, setHover] = useState(null);
  const pts = useRef([]);
  const sxv = scale(xs),
    syv = scale(ys);
  const ref = useCanvas(
    (g, w, h) => {
      // The left margin fits the longest y label, so no label is ever cut off.
      const yTicks = [syv.ticks[0], syv.ticks[1], syv.mid || ''].map((t) => clip(t));
      const pad = { l: Math.max(44, 26 + Math.max(...yTicks.map((t) => g.measureText(t).width))), r: 16, t: 12, b: 38 };
      const pw = w - pad.l - pad.r,
        ph = h - pad.t - pad.b;
      g.strokeStyle = '#cbd5e1';
      g.strokeRect(pad.l, pad.t, pw, ph);
      g.fillStyle = '#64748b';
      g.textAlign = 'left';
      g.fillText(clip(sxv.ticks[0]), pad.l, h - 22);
      g.textAlign = 'right';
      g.fillText(clip(sxv.ticks[1]), w - pad.r, h - 22);
      if (sxv.mid !== undefined) {
        g.textAlign = 'center';
        g.fillText(clip(sxv.mid), pad.l + pw / 2, h - 22);
      }
      g.textAlign = 'center';
      g.fillStyle = '#334155';
      g.fillText(clip(xLabel, 60), pad.l + pw / 2, h - 6);
      g.fillStyle = '#64748b';
      g.textAlign = 'right';
      g.fillText(yTicks[1], pad.l - 4, pad.t + 10);
      g.fillText(yTicks[0], pad.l - 4, pad.t + ph);
      if (syv.mid !== undefined) g.fillText(yTicks[2], pad.l - 4, pad.t + ph / 2 + 4);
      g.save();
      g.translate(11, pad.t + ph / 2);
      g.rotate(-Math.PI / 2);
      g.textAlign = 'center';
      g.fillStyle = '#334155';
      g.fillText(clip(yLabel, 40), 0, 0);
      g.restore();
      const out = [];
      runs.forEach((r, i) => {
        const fx = sxv.f(xs[i]),
          fy = syv.f(ys[i]);
        if (fx === null || fy === null) return;
        // Points stay inside the frame (a 6 px inset), never on its edge.
        const x = pad.l + 6 + fx * (pw - 12),
          y = pad.t + 6 + (1 - fy) * (ph - 12);
        g.fillStyle = color(i);
        g.beginPath();
        g.arc(x, y, 4.5, 0, Math.PI * 2);
        g.fill();
        out.push({ x, y, i });
      });
      pts.current = out;
      ref.current.dataset.points = String(out.length);
      ref.current.dataset.padLeft = String(Math.round(pad.l));
      ref.current.dataset.xticks = [sxv.ticks[0], sxv.mid ?? '', sxv.ticks[1]].join('|');
      ref.current.dataset.yticks = [syv.ticks[0], syv.mid ?? '', syv.ticks[1]].join('|');
    },
    [xs.join('|'), ys.join('|'), xLabel, yLabel],
    H,
  );
  const onMove = (e) => {
    const b = e.currentTarget.getBoundingClientRect();
    const mx = e.clientX - b.left,
      my = e.clientY - b.top;
    let best = null,
      bd = 100;
    for (const p of pts.current) {
      const d = (p.x - mx) ** 2 + (p.y - my) ** 2;
      if (d < bd) (bd = d), (best = p);
    }
    setHover(best ? { ...best } : null);
  };
  return (
    <div class="canvas-box">
      <canvas ref={ref} onMouseMove={onMove} onMouseLeave={() => setHover(null)} data-testid="scatter" />
      {hover && (
        <div class="tip" style={{ left: hover.x + 8 + 'px', top: hover.y - 8 + 'px' }}>
          <b>{runName(runs[hover.i])}</b>
          <br />
          {xLabel}: {String(xs[hover.i])}
          <br />
          {yLabel}: {String(ys[hover.i])}
        </div>
      )}
    </div>
  );
}

export function Parallel({ runs, axes }) {
  const H = 320,
    pad = { l: 30, r: 30, t: 28, b: 24 };
  const ref = useCanvas(
    (g, w, h) => {
      if (axes.length < 2) {
        g.fillStyle = '#64748b';
        g.fillText('Pick at least two axes.', 10, 20);
        return;
      }
      const scales = axes.map((a) => scale(a.values));
      const ph = h - pad.t - pad.b;
      const ax = (j) => pad.l + (j * (w - pad.l - pad.r)) / (axes.length - 1);
      const last = scales[scales.length - 1];
      let drawn = 0;
      g.lineWidth = 1.2;
      runs.forEach((r, i) => {
        const c = last.f(axes[axes.length - 1].values[i]);
        g.strokeStyle = c === null ? '#94a3b8' : `hsl(${220 - 220 * c}, 70%, 48%)`;
        g.globalAlpha = 0.7;
        g.beginPath();
        let started = false;
        axes.forEach((a, j) => {
          const f = scales[j].f(a.values[i]);
          if (f === null) return (started = false);
          const x = ax(j),
            y = pad.t + (1 - f) * ph;
          started ? g.lineTo(x, y) : g.moveTo(x, y);
          started = true;
        });
        g.stroke();
        drawn++;
      });
      g.globalAlpha = 1;
      axes.forEach((a, j) => {
        const x = ax(j);
        g.strokeStyle = '#334155';
        g.beginPath();
        g.moveTo(x, pad.t);
        g.lineTo(x, pad.t + ph);
        g.stroke();
        g.fillStyle = '#0f172a';
        g.textAlign = j === 0 ? 'left' : j === axes.length - 1 ? 'right' : 'center';
        g.fillText(a.label.length > 18 ? a.label.slice(0, 17) + '…' : a.label, x, 12);
        g.fillStyle = '#64748b';
        g.fillText(clip(scales[j].ticks[1], 12), x, pad.t - 4);
        g.fillText(clip(scales[j].ticks[0], 12), x, h - 8);
        if (scales[j].mid !== undefined) g.fillText(clip(scales[j].mid, 12), x + (j === axes.length - 1 ? -4 : 4), pad.t + ph / 2 - 4);
      });
      ref.current.dataset.lines = String(drawn);
    },
    [axes.map((a) => a.label + a.values.join('|')).join('#')],
    H,
  );
  return (
    <div class="canvas-box">
      <canvas ref={ref} data-testid="parallel" />
    </div>
  );
}
