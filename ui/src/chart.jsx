// Metric charts on canvas (uPlot). Points come down-sampled by the server
// (get-history-bulk-interval); zooming in fetches the zoomed step range at full detail.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import * as api from './api.js';
import { color, fmtNum, errText } from './util.js';
import { groupByRun, buildData } from './logic.js';

export const MAX_POINTS = 1000;
const LIVE_MS = 3000;




export function MetricChart({ runs, metricKey, xMode = 'step', log = false, smoothing = 0, live = false, height = 260, compact = false }) {
  const box = useRef(null);
  const plot = useRef(null);
  const [points, setPoints] = useState(null);
  const [error, setError] = useState(null);
  const [range, setRange] = useState(null); // {startStep, endStep, xmin, xmax}
  const [tick, setTick] = useState(0);
  const [width, setWidth] = useState(0);
  const [drawn, setDrawn] = useState(0);
  const starts = useRef({});
  const runIds = runs.map((r) => r.id).join(',');

  useEffect(() => {
    const ro = new ResizeObserver(() => box.current && setWidth(box.current.clientWidth));
    ro.observe(box.current);
    setWidth(box.current.clientWidth);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const ctl = new AbortController();
    let next = 0;
    api
      .metricHistoryInterval(
        { runIds: runs.map((r) => r.id), key: metricKey, maxResults: MAX_POINTS, startStep: range?.startStep, endStep: range?.endStep },
        ctl.signal,
      )
      .then(
        (pts) => {
          const byRun = groupByRun(pts);
          if (!range)
            for (const run of runs) {
              const a = byRun.get(run.id);
              starts.current[run.id] = run.startTime ?? (a && a.length ? Math.min(...a.slice(0, 50).map((p) => p.timestamp)) : 0);
            }
          setPoints(byRun);
          setError(null);
          // Live: the next refresh is scheduled only once this answer is in, so a slow
          // server never sees requests pile up (and none is cancelled half-way).
          if (live && !range) next = setTimeout(() => setTick((x) => x + 1), LIVE_MS);
        },
        (e) => e.name !== 'AbortError' && setError(e),
      );
    return () => (ctl.abort(), clearTimeout(next));
  }, [runIds, metricKey, range, tick, live]);

  useEffect(() => {
    if (!points || !width) return;
    const { data, count } = buildData(runs, points, xMode, smoothing, log, starts.current);
    const series = [{ label: xMode === 'step' ? 'step' : xMode === 'wall' ? 'time' : 'seconds' }];
    runs.forEach((run, i) => {
      const c = color(i);
      if (smoothing > 0) {
        series.push({ label: run.name + ' (raw)', stroke: c + '40', width: 1, spanGaps: true, points: { show: false } });
        series.push({ label: run.name, stroke: c, width: 1.5, spanGaps: true, points: { show: false }, value: (u, v) => fmtNum(v) });
      } else series.push({ label: run.name, stroke: c, width: 1.5, spanGaps: true, points: { show: data[0].length < 60 }, value: (u, v) => fmtNum(v) });
    });
    const opts = {
      width,
      height,
      series,
      legend: { show: !compact && runs.length <= 12 },
      scales: { x: { time: xMode === 'wall' }, y: { distr: log ? 3 : 1 } },
      axes: [{ stroke: '#64748b', grid: { stroke: '#eef2f7' } }, { stroke: '#64748b', grid: { stroke: '#eef2f7' }, size: 60, values: (u, vals) => vals.map(fmtNum) }],
      cursor: { drag: { x: true, y: false }, points: { size: 5 } },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 4) return;
            const xmin = u.posToVal(u.select.left, 'x');
            const xmax = u.posToVal(u.select.left + u.select.width, 'x');
            // The step range behind the selected x range (any x mode).
            let lo = Infinity,
              hi = -Infinity;
            for (const run of runs)
              for (const p of points.get(run.id) || []) {
                const x = xMode === 'step' ? p.step : xMode === 'wall' ? p.timestamp / 1000 : (p.timestamp - starts.current[run.id]) / 1000;
                if (x >= xmin && x <= xmax) (lo = Math.min(lo, p.step), (hi = Math.max(hi, p.step)));
              }
            if (lo <= hi) setRange({ startStep: Math.floor(lo), endStep: Math.ceil(hi), xmin, xmax });
          },
        ],
        draw: [() => setDrawn(count)],
      },
    };
    plot.current?.destroy();
    const el = box.current.querySelector('.plot');
    plot.current = new uPlot(opts, data, el);
    if (range) plot.current.setScale('x', { min: range.xmin, max: range.xmax });
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [points, width, xMode, smoothing, log, height, compact]);

  return (
    <div class="chart" ref={box} data-testid="chart" data-metric={metricKey} data-points={drawn} onDblClick={() => setRange(null)}>
      {error && <div class="error">{errText(error)}</div>}
      <div class="plot" />
      {range && (
        <div class="zoom-note">
          steps {range.startStep}–{range.endStep} at full detail ·{' '}
          <button class="link" onClick={() => setRange(null)}>
            reset zoom
          </button>
        </div>
      )}
    </div>
  );
}

export function ChartControls({ xMode, setXMode, log, setLog, smoothing, setSmoothing }) {
  return (
    <div class="chart-controls">
      <label>
        X axis{' '}
        <select value={xMode} onChange={(e) => setXMode(e.target.value)} data-testid="x-mode">
          <option value="step">Step</option>
          <option value="wall">Wall time</option>
          <option value="relative">Relative time</option>
        </select>
      </label>
      <label class="chk">
        <input type="checkbox" checked={log} onChange={(e) => setLog(e.target.checked)} data-testid="log-scale" /> Log scale
      </label>
      <label>
        Smoothing <input type="range" min="0" max="0.99" step="0.01" value={smoothing} onInput={(e) => setSmoothing(Number(e.target.value))} data-testid="smoothing" /> <span class="mono">{smoothing.toFixed(2)}</span>
      </label>
      <span class="muted small" title="Dragging across a chart zooms in and fetches the full detail of that range; a double-click resets the zoom">
        Drag to zoom · double-click to reset
      </span>
    </div>
  );
}
