// Browser benchmark of the web UI: seeds mlox (and optionally the real MLflow server)
// through the REST API, then times three pages in Debian's chromium:
//   1. the runs table of an experiment with 100,000 runs (navigation → first rows visible),
//   2. the chart of a metric with 1,000,000 points (navigation → chart drawn),
//   3. a compare of 100 runs (navigation → table, parallel coordinates and chart drawn),
//   4. the experiment's chart view of 100 runs × 10 metrics (5 histories of 200 steps, 5
//      single values; navigation → every panel drawn; MLflow: its "Show all runs" setting,
//      the panels on screen drawn). BENCH_ONLY=chartview seeds and times this one alone on
//      mlox and prints it (UI_RESULTS.md is left as it is).
//   5. the traces list of an experiment of BENCH_TRACES (100,000) traces (navigation → the
//      newest trace's row shown). MLflow gets BENCH_MLFLOW_REST_TRACES over REST, the rest
//      inserted into its SQLite by bench/seed_mlflow_traces_sqlite.py.
//   6. BENCH_ONLY=trace (bench/traces/run.sh): the trace view of one trace already logged
//      on a running server (BENCH_TRACE_URL, BENCH_TRACE_EXP, BENCH_TRACE_ID,
//      BENCH_TRACE_SPANS spans, BENCH_TRACE_UI=mlox|mlflow), navigation → span tree drawn;
//      prints JSON (nothing is seeded and UI_RESULTS.md is left as it is).
// Each figure is the median of BENCH_REPEAT navigations after one warm-up; the server's
// share is measured separately (the same API call timed from node).
import { writeFileSync, readFileSync } from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, startServer, client, pool, launch, mloxBin } from '../../ui/tests/lib.mjs';

const env = (k, d) => (process.env[k] ? Number(process.env[k]) : d);
const RUNS = env('BENCH_RUNS', 100000);
const POINTS = env('BENCH_POINTS', 1000000);
const MLFLOW_RUNS = env('BENCH_MLFLOW_RUNS', RUNS);
const MLFLOW_POINTS = env('BENCH_MLFLOW_POINTS', POINTS);
const MLFLOW_REST_RUNS = env('BENCH_MLFLOW_REST_RUNS', 500);
const REPEAT = env('BENCH_REPEAT', 5);
const TRACES = env('BENCH_TRACES', 100000);
const MLFLOW_REST_TRACES = env('BENCH_MLFLOW_REST_TRACES', 500);
// MLflow's chart view of 100 runs takes about a minute per navigation on this machine.
const MLFLOW_CHART_REPEAT = env('BENCH_MLFLOW_CHART_REPEAT', 3);
const SKIP_MLFLOW = !!process.env.BENCH_SKIP_MLFLOW;
const SKIP_MLOX = !!process.env.BENCH_SKIP_MLOX;
const OUT = process.env.BENCH_OUT || join(REPO, 'bench', 'UI_RESULTS.md');
const ONLY_CHARTVIEW = process.env.BENCH_ONLY === 'chartview';
const CONC = 16;
const log = (...a) => console.error(new Date().toISOString().slice(11, 19), ...a);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const T0 = 1764000000000;

function runShape(i) {
  return {
    params: [
      { key: 'lr', value: String([0.1, 0.01, 0.001, 0.0001][i % 4]) },
      { key: 'batch_size', value: String(16 << i % 5) },
      { key: 'optimizer', value: ['adam', 'sgd', 'rmsprop'][i % 3] },
      { key: 'layers', value: String(2 + (i % 7)) },
      { key: 'seed', value: String(i) },
    ],
    metrics: [
      { key: 'accuracy', value: ((i * 7919) % 10000) / 10000, timestamp: T0 + i, step: 0 },
      { key: 'loss', value: ((i * 104729) % 10000) / 5000, timestamp: T0 + i, step: 0 },
      { key: 'f1', value: ((i * 15485863) % 10000) / 10000, timestamp: T0 + i, step: 0 },
    ],
  };
}

async function seedRuns(c, exp, from, to, label) {
  const t = Date.now();
  let done = 0;
  const idx = Array.from({ length: to - from }, (_, k) => from + k);
  await pool(idx, CONC, async (i) => {
    const run = await c.createRun(exp, `bench-run-${i}`, T0 + i * 1000, [{ key: 'mlflow.source.name', value: 'train.py' }]);
    await c.logBatch(run.info.run_id, runShape(i));
    if (++done % 10000 === 0) log(`${label}: ${done} runs`);
  });
  return (Date.now() - t) / 1000;
}

async function seedBigMetric(c, runId, points, total, label) {
  const t = Date.now();
  const batches = Array.from({ length: Math.ceil(points / 1000) }, (_, b) => b);
  await pool(batches, 8, async (b) => {
    const metrics = [];
    for (let s = b * 1000; s < Math.min(points, (b + 1) * 1000); s++)
      metrics.push({ key: 'big', value: Math.exp(-s / (total / 5)) + 0.05 * Math.sin(s / 50) + 0.02 * ((s * 7919) % 101) / 101, timestamp: T0 + s * 10, step: s });
    await c.logBatch(runId, { metrics });
    if ((b + 1) % 200 === 0) log(`${label}: ${(b + 1) * 1000} points`);
  });
  return (Date.now() - t) / 1000;
}

async function seedCompare(c, exp) {
  const ids = [];
  await pool(Array.from({ length: 100 }, (_, i) => i), CONC, async (i) => {
    const run = await c.createRun(exp, `cmp-${String(i).padStart(3, '0')}`, T0 + i * 1000);
    const metrics = [];
    for (let s = 0; s < 200; s++) metrics.push({ key: 'loss', value: Math.exp(-s / (30 + i)) + 0.01 * (s % 7), timestamp: T0 + s * 1000, step: s });
    metrics.push({ key: 'accuracy', value: (i % 37) / 37, timestamp: T0, step: 0 });
    const params = Array.from({ length: 20 }, (_, p) => ({ key: `hp_${p}`, value: String((i * (p + 3)) % (p + 5)) }));
    await c.logBatch(run.info.run_id, { metrics, params });
    await c.finish(run.info.run_id);
    ids[i] = run.info.run_id;
  });
  return ids;
}

async function timeApi(fn, n = REPEAT) {
  await fn();
  const t = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
  }
  return median(t);
}

/** Median over REPEAT navigations of the in-page time (performance.now()) at which `ready` holds. */
async function timePage(ctx, url, ready, arg, apiPattern, repeat = REPEAT) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(180000);
  const times = [];
  const apis = [];
  for (let i = 0; i <= repeat; i++) {
    await page.goto('about:blank');
    await page.goto(url, { waitUntil: 'commit' });
    const h = await page.waitForFunction(ready, arg, { polling: 'raf', timeout: 180000 });
    const ms = await h.jsonValue();
    // The page's longest request to the API call that carries its data (resource timing).
    const api = await page.evaluate(
      (p) => Math.max(0, ...performance.getEntriesByType('resource').filter((e) => e.name.includes(p)).map((e) => e.responseEnd - e.startTime)),
      apiPattern,
    );
    if (i > 0) (times.push(ms), apis.push(api));
    log(`  ${i === 0 ? 'warm-up' : 'run ' + i}: ${ms.toFixed(0)} ms (${apiPattern}: ${api.toFixed(0)} ms)`);
  }
  await page.close();
  return { median: median(times), max: Math.max(...times), min: Math.min(...times), api: median(apis) };
}

const MLOX_READY = {
  table: () => document.querySelector('[data-testid=runs-grid] .g-row .run-link') && performance.now(),
  chart: () => Number(document.querySelector('[data-testid=chart][data-metric=big]')?.dataset.points) > 0 && performance.now(),
  compare: (n) =>
    document.querySelector('[data-testid=parallel]')?.dataset.lines === String(n) &&
    document.querySelectorAll('[data-testid=compare-table] tbody tr').length > 0 &&
    Number(document.querySelector('[data-testid=chart]')?.dataset.points) > 0 &&
    performance.now(),
  chartView: () => {
    const lines = [...document.querySelectorAll('[data-testid=chart-panel] [data-testid=chart]')];
    const bars = [...document.querySelectorAll('[data-testid=chart-panel] [data-testid=bar-chart]')];
    return lines.length === 5 && lines.every((c) => Number(c.dataset.points) > 0) && bars.length === 5 && bars.every((b) => b.dataset.bars === '100') && performance.now();
  },
  traces: () => [...document.querySelectorAll('[data-testid=trace-row]')].some((r) => r.innerText.includes('"question 0"')) && performance.now(),
};

// MLflow 3's UI: ag-grid rows for the runs table; Plotly SVG traces for charts.
const MLFLOW_READY = {
  table: () => document.querySelector('.ag-row') && /bench-run-\d+/.test(document.body.innerText) && performance.now(),
  chart: () => {
    const p = document.querySelector('.js-plotly-plot .scatterlayer path.js-line');
    return p && (p.getAttribute('d') || '').length > 100 && performance.now();
  },
  // MLflow's compare page: parallel coordinates (Plotly, WebGL) and the run table; it has no metric chart.
  compare: () => document.querySelector('.pcp-plot .gl-canvas') && document.querySelector('.mlflow-compare-run-table') && document.body.innerText.includes('cmp-000') && performance.now(),
  // The chart view (compareRunsMode=CHART) with "Show all runs": MLflow draws a card when it
  // scrolls into view, so "drawn" is the cards on screen at 1440×900: the 5 line charts with
  // a trace per run (Plotly draws two per run) and the first bar chart with a bar per run.
  chartView: () => {
    const cards = [...document.querySelectorAll('[data-testid=experiment-view-compare-runs-card]')];
    const lines = cards.filter((c) => c.querySelectorAll('.scatterlayer .trace').length >= 100);
    const bars = cards.filter((c) => c.querySelectorAll('.barlayer .point').length >= 100);
    return lines.length >= 5 && bars.length >= 1 && performance.now();
  },
  traces: () => [...document.querySelectorAll('[role=row]')].some((r) => r.innerText.includes('"question 0"')) && performance.now(),
};

/** 100 runs × 10 metrics for the chart view: 5 histories of 200 steps, 5 single values. */
async function seedChartView(c) {
  const exp = await c.createExperiment('bench-chart-view');
  await pool(Array.from({ length: 100 }, (_, i) => i), CONC, async (i) => {
    const run = await c.createRun(exp, `cv-${String(i).padStart(3, '0')}`, T0 + i * 1000);
    const metrics = [];
    for (let k = 0; k < 5; k++) for (let s = 0; s < 200; s++) metrics.push({ key: `curve_${k}`, value: Math.exp(-s / (30 + i + k * 10)) + k, timestamp: T0 + s * 100, step: s });
    for (let k = 0; k < 5; k++) metrics.push({ key: `final_${k}`, value: ((i * (k + 3)) % 17) / 17 + k, timestamp: T0, step: 0 });
    for (let k = 0; k < metrics.length; k += 900) await c.logBatch(run.info.run_id, { metrics: metrics.slice(k, k + 900) });
    await c.finish(run.info.run_id);
  });
  return exp;
}

async function seedAll(base, label, { runs, points, restRuns, mlflowDb }) {
  const c = client(base);
  const s = {};
  s.exp = await c.createExperiment('bench-100k-runs');
  if (mlflowDb && restRuns < runs) {
    s.seedRunsSeconds = await seedRuns(c, s.exp, 0, restRuns, label);
    s.bulkRunsSeconds = bulkMlflowRuns(mlflowDb, s.exp, restRuns, runs);
    s.runsNote = `${restRuns} runs over REST, the rest inserted into MLflow's SQLite by bench/seed_mlflow_sqlite.py`;
  } else {
    s.seedRunsSeconds = await seedRuns(c, s.exp, 0, runs, label);
  }
  log(`${label}: ${runs} runs seeded`);
  s.chartViewExp = await seedChartView(c);
  log(`${label}: chart view seeded`);
  Object.assign(s, await seedTraces(base, label, { traces: TRACES, restTraces: mlflowDb ? MLFLOW_REST_TRACES : TRACES, mlflowDb }));
  const cexp = await c.createExperiment('bench-metric');
  s.chartExp = cexp;
  const run = await c.createRun(cexp, 'big-metric', T0);
  s.chartRun = run.info.run_id;
  const restPoints = mlflowDb ? Math.min(points, 1000) : points;
  // Finished, as a typical finished training run (a running one would make the page poll).
  await c.finish(s.chartRun, T0 + points * 10);
  s.seedPointsSeconds = await seedBigMetric(c, s.chartRun, restPoints, points, label);
  if (mlflowDb && restPoints < points) {
    bulkMlflowPoints(mlflowDb, s.chartRun, restPoints, points);
    s.pointsNote = `${restPoints} points over REST, the rest inserted into MLflow's SQLite directly`;
  }
  log(`${label}: ${points} points seeded`);
  s.cmpExp = await c.createExperiment('bench-compare');
  s.cmpRuns = await seedCompare(c, s.cmpExp);
  return s;
}

/** An experiment of `traces` traces: StartTraceV3 over REST (the newest, "question 0", last),
 * the rest (MLflow) cloned into its SQLite. Request times end at the seeding's start so
 * that MLflow's default time range shows them. */
async function seedTraces(base, label, { traces, restTraces, mlflowDb }) {
  const c = client(base);
  const exp = await c.createExperiment('bench-traces');
  const now = Date.now();
  const t = Date.now();
  const start = async (i) => {
    const hex = (now * 1000 + i).toString(16).padStart(16, '0') + (i * 2654435761 % 2 ** 32).toString(16).padStart(16, '0');
    const question = JSON.stringify({ question: `question ${i}` });
    const answer = JSON.stringify(`answer ${i}`);
    const body = {
      trace: {
        trace_info: {
          trace_id: 'tr-' + hex.slice(-32),
          trace_location: { type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: exp } },
          request_time: new Date(now - i * 100).toISOString(),
          execution_duration: `${(20 + (i % 300)) / 1000}s`,
          state: i % 50 === 0 ? 'ERROR' : 'OK',
          request_preview: question,
          response_preview: answer,
          trace_metadata: { 'mlflow.trace_schema.version': '3', 'mlflow.source.name': 'bench.py', 'mlflow.traceInputs': question, 'mlflow.traceOutputs': answer },
          tags: { 'mlflow.traceName': 'answer', team: i % 2 ? 'a' : 'b' },
        },
      },
    };
    await c.call('POST', '../../3.0/mlflow/traces', body);
  };
  // Over REST: the newest `restTraces` (all of them on mlox); MLflow's older ones in bulk.
  let done = 0;
  await pool(Array.from({ length: restTraces }, (_, k) => k), CONC, async (i) => {
    await start(i);
    if (++done % 20000 === 0) log(`${label}: ${done} traces`);
  });
  const out = { tracesExp: exp, seedTracesSeconds: (Date.now() - t) / 1000 };
  if (mlflowDb && restTraces < traces) {
    const b = Date.now();
    execFileSync(py(), [join(REPO, 'bench', 'seed_mlflow_traces_sqlite.py'), mlflowDb, String(exp), String(restTraces), String(traces), String(now)], { stdio: ['ignore', 'inherit', 'inherit'] });
    out.bulkTracesSeconds = (Date.now() - b) / 1000;
    out.tracesNote = `${restTraces} traces over REST (StartTraceV3), the rest cloned into MLflow's SQLite by bench/seed_mlflow_traces_sqlite.py`;
  }
  log(`${label}: ${traces} traces seeded`);
  return out;
}

function py() {
  return join(REPO, '.venv', 'bin', 'python');
}

function bulkMlflowRuns(db, exp, from, to) {
  const t = Date.now();
  const lines = [];
  for (let i = from; i < to; i++) {
    const s = runShape(i);
    lines.push(
      JSON.stringify({
        i,
        params: Object.fromEntries(s.params.map((p) => [p.key, p.value])),
        metrics: Object.fromEntries(s.metrics.map((m) => [m.key, m.value])),
        tags: {}, // the template run's tags (mlflow.source.name among them) are copied
      }),
    );
  }
  execFileSync(py(), [join(REPO, 'bench', 'seed_mlflow_sqlite.py'), db, String(exp)], { input: lines.join('\n') + '\n', stdio: ['pipe', 'inherit', 'inherit'], maxBuffer: 1 << 30 });
  return (Date.now() - t) / 1000;
}

function bulkMlflowPoints(db, runId, from, to) {
  const code = `
import sqlite3, math, sys
db, run, a, b, t0 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
con = sqlite3.connect(db, timeout=60)
def rows():
    for s in range(a, b):
        v = math.exp(-s / (b / 5)) + 0.05 * math.sin(s / 50) + 0.02 * ((s * 7919) % 101) / 101
        yield ('big', v, t0 + s * 10, run, s, 0)
con.executemany('INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)', rows())
last = b - 1
v = math.exp(-last / (b / 5)) + 0.05 * math.sin(last / 50) + 0.02 * ((last * 7919) % 101) / 101
con.execute('UPDATE latest_metrics SET value=?, timestamp=?, step=? WHERE run_uuid=? AND key=?', (v, t0 + last * 10, last, run, 'big'))
con.commit()
`;
  execFileSync(py(), ['-c', code, db, runId, String(from), String(to), String(T0)], { stdio: 'inherit' });
}

function freePort() {
  return new Promise((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => r(p));
    });
  });
}

async function startMlflow() {
  const dir = mkdtempSync(join(tmpdir(), 'mlflow-ui-bench-'));
  const port = await freePort();
  const db = join(dir, 'mlflow.db');
  const child = spawn(join(REPO, '.venv', 'bin', 'mlflow'), ['server', '--host', '127.0.0.1', '--port', String(port), '--backend-store-uri', `sqlite:///${db}`, '--artifacts-destination', join(dir, 'art'), '--workers', '1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, MLFLOW_ENABLE_TELEMETRY: 'false', DO_NOT_TRACK: 'true' },
    detached: true,
  });
  let errs = '';
  child.stderr.on('data', (d) => (errs = (errs + d).slice(-20000)));
  process.on('exit', () => writeFileSync(join(REPO, '.test-cache', 'ui-bench-mlflow-server.log'), errs));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    try {
      if ((await fetch(url + '/health')).ok) return { url, db, stop: () => process.kill(-child.pid, 'SIGTERM') };
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('mlflow server did not start:\n' + errs);
}

async function measure(ctx, base, s, ready, mlflow) {
  const r = { load: loadavg() };
  const c = client(base);
  r.apiSearch = await timeApi(() => c.post('runs/search', { experiment_ids: [s.exp], max_results: mlflow ? 100 : 200, order_by: mlflow ? ['attributes.start_time DESC'] : undefined }));
  r.apiInterval = await timeApi(() => c.get('metrics/get-history-bulk-interval', { run_ids: s.chartRun, metric_key: 'big', max_results: mlflow ? 320 : 1000 }));
  log('runs table');
  r.table = await timePage(ctx, mlflow ? `${base}/#/experiments/${s.exp}/runs` : `${base}/experiments/${s.exp}`, ready.table, undefined, 'runs/search');
  log('chart');
  r.chart = await timePage(ctx, mlflow ? `${base}/#/experiments/${s.chartExp}/runs/${s.chartRun}/model-metrics` : `${base}/runs/${s.chartRun}/metrics?key=big`, ready.chart, undefined, 'get-history-bulk-interval');
  log('compare');
  const ids = s.cmpRuns;
  const url = mlflow
    ? `${base}/#/compare-runs?runs=${encodeURIComponent(JSON.stringify(ids))}&experiments=${encodeURIComponent(JSON.stringify([s.cmpExp]))}`
    : // The compare page with the 200-step loss chart (its first metric, accuracy, is single-valued: a bar chart).
      `${base}/metric/loss?runs=${ids.join(',')}&exps=${s.cmpExp}`;
  r.compare = await timePage(ctx, url, ready.compare, ids.length, mlflow ? '/runs/' : 'runs/search');
  if (mlflow) {
    log('chart view (MLflow: "Show all runs" first)');
    const chartUrl = `${base}/#/experiments/${s.chartViewExp}/runs?compareRunsMode=CHART`;
    await showAllRunsInMlflow(ctx, chartUrl);
    r.chartView = await timePage(ctx, chartUrl, ready.chartView, undefined, 'get-history', MLFLOW_CHART_REPEAT);
  } else {
    r.chartView = await timeChartView(ctx, base, s.chartViewExp);
  }
  log('traces list');
  r.traces = await timePage(ctx, mlflow ? `${base}/#/experiments/${s.tracesExp}/traces` : `${base}/experiments/${s.tracesExp}/traces`, ready.traces, undefined, 'traces/search');
  r.apiTraces = await timeApi(() =>
    c.call('POST', '../../3.0/mlflow/traces/search', {
      locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: s.tracesExp } }],
      max_results: mlflow ? 25 : 50,
      order_by: ['timestamp_ms DESC'],
    }),
  );
  return r;
}

/** MLflow's chart view draws its first 10 runs only until "Show all runs" is chosen in the
 * run table's visibility menu; the choice is kept in the browser's localStorage. */
async function showAllRunsInMlflow(ctx, url) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(180000);
  await page.goto(url);
  await page.locator('[data-testid=experiment-view-compare-runs-card]').first().waitFor();
  await page.locator('[data-testid=experiment-view-runs-visibility-column-header]').click();
  await page.getByText('Show all runs', { exact: true }).click();
  await page.waitForTimeout(1000);
  await page.close();
}

async function timeChartView(ctx, base, exp) {
  log('chart view');
  return timePage(ctx, `${base}/experiments/${exp}/charts`, MLOX_READY.chartView, undefined, 'get-history-bulk-interval');
}

// The trace view opened by the link MLflow's client prints
// (`#/experiments/<id>/traces?selectedEvaluationId=<trace id>`), until the span tree is drawn:
// mlox: the span count of the whole trace, its rows and their waterfall bars; MLflow: its
// span tree's nodes (MLflow's default view; its timeline is a toggle of the same panel).
const TRACE_READY = {
  mlox: (n) =>
    document.querySelector('[data-testid=span-count]')?.textContent.trim() === `${n} spans` &&
    document.querySelectorAll('[data-testid=span-row]').length > 0 &&
    document.querySelector('[data-testid=span-tree] .waterfall div') &&
    performance.now(),
  mlflow: () => document.querySelectorAll('[data-testid^=timeline-tree-node-]').length > 0 && document.body.innerText.includes('step-1') && performance.now(),
};

if (process.env.BENCH_ONLY === 'trace') {
  const { BENCH_TRACE_URL: base, BENCH_TRACE_EXP: exp, BENCH_TRACE_ID: id, BENCH_TRACE_UI: ui = 'mlox' } = process.env;
  const spans = env('BENCH_TRACE_SPANS', 5000);
  const ctx = await launch();
  try {
    const mlflow = ui.startsWith('mlflow');
    const url = `${base}/#/experiments/${exp}/traces?selectedEvaluationId=${encodeURIComponent(id)}`;
    log(`${ui}: ${url}`);
    const r = await timePage(ctx, url, mlflow ? TRACE_READY.mlflow : TRACE_READY.mlox, spans, mlflow ? 'get-trace-artifact' : 'traces/get');
    // What was on screen when it counted as drawn (one more navigation, not timed). Only a
    // diagnostic: its failure (a screenshot timing out on a busy machine) loses no figure.
    try {
      const page = await ctx.newPage();
      await page.goto(url, { waitUntil: 'commit' });
      await page.waitForFunction(mlflow ? TRACE_READY.mlflow : TRACE_READY.mlox, spans, { polling: 'raf', timeout: 120000 });
      r.rows = await page.evaluate((m) => document.querySelectorAll(m ? '[data-testid^=timeline-tree-node-]' : '[data-testid=span-row]').length, mlflow);
      await page.screenshot({ path: join(REPO, '.test-cache', `trace-view-${ui}.png`), timeout: 120000 });
      await page.close();
    } catch (e) {
      log(`diagnostic navigation failed: ${String(e.message || e).split('\n')[0]}`);
    }
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(JSON.stringify({ scenario: 'ui-trace-view', ui, spans, url, ...r, repeat: REPEAT, loadavg: load }));
  } finally {
    await ctx.close();
  }
  process.exit(0);
}

if (ONLY_CHARTVIEW) {
  const ctx = await launch();
  const m = await startServer();
  try {
    const exp = await seedChartView(client(m.url));
    const r = await timeChartView(ctx, m.url, exp);
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(JSON.stringify({ chartView: r, loadavg: load, repeat: REPEAT }));
  } finally {
    await m.stop();
    await ctx.close();
  }
  process.exit(0);
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' / ');
const results = { date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC', loadStart: loadavg() };
const ctx = await launch();
try {
  if (!SKIP_MLOX) {
    log(`mlox: ${mloxBin()}`);
    const m = await startServer();
    try {
      results.mloxSeed = await seedAll(m.url, 'mlox', { runs: RUNS, points: POINTS });
      results.mlox = await measure(ctx, m.url, results.mloxSeed, MLOX_READY, false);
    } finally {
      await m.stop();
    }
  }
  if (!SKIP_MLFLOW) {
    log('mlflow server');
    const f = await startMlflow();
    try {
      results.mlflowSeed = await seedAll(f.url, 'mlflow', { runs: MLFLOW_RUNS, points: MLFLOW_POINTS, restRuns: MLFLOW_REST_RUNS, mlflowDb: f.db });
      results.mlflow = await measure(ctx, f.url, results.mlflowSeed, MLFLOW_READY, true);
    } catch (e) {
      results.mlflowError = String(e.message || e).slice(0, 500);
      log('mlflow failed:', results.mlflowError);
    } finally {
      f.stop();
    }
  }
} finally {
  await ctx.close();
}

results.loadEnd = loadavg();
writeFileSync(join(REPO, '.test-cache', 'ui-bench.json'), JSON.stringify(results, null, 2));
writeFileSync(OUT, report(results));
log('wrote', OUT);

function report(r) {
  const f = (x) => (x === undefined ? '–' : x.toFixed(0) + ' ms');
  const row = (label, target, key) => {
    const a = r.mlox?.[key],
      b = r.mlflow?.[key];
    const ok = a && a.median < target ? 'yes' : 'no';
    const ratio = a && b ? (b.median / a.median).toFixed(1) + '×' : '–';
    return `| ${label} | < ${target} ms | ${a ? `${f(a.median)} (min ${f(a.min)}, max ${f(a.max)})` : '–'} | ${a ? ok : '–'} | ${b ? `${f(b.median)} (min ${f(b.min)}, max ${f(b.max)})` : '–'} | ${ratio} |`;
  };
  const cmd = [
    'bench/ui/run.sh',
    RUNS !== 100000 ? `BENCH_RUNS=${RUNS}` : '',
    POINTS !== 1000000 ? `BENCH_POINTS=${POINTS}` : '',
    TRACES !== 100000 ? `BENCH_TRACES=${TRACES}` : '',
    SKIP_MLFLOW ? 'BENCH_SKIP_MLFLOW=1' : '',
  ].filter(Boolean);
  return `# Web UI benchmark: mlox vs MLflow's UI

- Command: \`${cmd.length > 1 ? cmd.slice(1).join(' ') + ' ' : ''}${cmd[0]}\`
- Date: ${r.date}; machine: 2 CPUs shared with other work; Debian chromium (headless, playwright-core), viewport 1440×900.
- Each figure: median of ${REPEAT} navigations after one warm-up, measured in the page (\`performance.now()\` since navigation start) until the page shows its data:
  table rows visible; the chart's canvas drawn (mlox) / a Plotly trace drawn (MLflow); compare table, parallel coordinates and chart drawn.
- Data, both servers: an experiment of ${RUNS.toLocaleString('en')} runs (5 params, 3 metrics, 1 tag each); a run with one metric of ${POINTS.toLocaleString('en')} points; 100 runs with 20 params and a 200-step metric; 100 runs × 10 metrics for the chart view (5 histories of 200 steps, 5 single values); an experiment of ${TRACES.toLocaleString('en')} traces (trace info with request/response previews, metadata and two tags each, no spans).
- Seeding mlox over REST (${CONC} concurrent clients): ${r.mloxSeed?.seedRunsSeconds?.toFixed(0)} s for the runs (runs/create + log-batch each), ${r.mloxSeed?.seedPointsSeconds?.toFixed(0)} s for the points (log-batch, 1000 a request), ${r.mloxSeed?.seedTracesSeconds?.toFixed(0)} s for the traces (one StartTraceV3 each).
${r.mlflowSeed ? `- Seeding MLflow: ${r.mlflowSeed.runsNote || 'all over REST'} (${r.mlflowSeed.seedRunsSeconds?.toFixed(0)} s REST${r.mlflowSeed.bulkRunsSeconds ? `, ${r.mlflowSeed.bulkRunsSeconds.toFixed(0)} s bulk` : ''}); ${r.mlflowSeed.pointsNote || 'points over REST'}; ${r.mlflowSeed.tracesNote || 'traces over REST'} (${r.mlflowSeed.seedTracesSeconds?.toFixed(0)} s REST${r.mlflowSeed.bulkTracesSeconds ? `, ${r.mlflowSeed.bulkTracesSeconds.toFixed(0)} s bulk` : ''}).\n` : ''}- Load average (1 / 5 / 15 min) at the start: ${r.loadStart}; when mlox's measurements began: ${r.mlox?.load ?? '–'}; when MLflow's began: ${r.mlflow?.load ?? '–'}; at the end: ${r.loadEnd}.
${r.mlflowError ? `- MLflow: not measured (${r.mlflowError}).\n` : ''}
| page | target | mlox | met | MLflow ${'3.17.2'} UI | MLflow ÷ mlox |
|---|---:|---:|:-:|---:|---:|
${row(`runs table, experiment of ${RUNS.toLocaleString('en')} runs (first page)`, 1000, 'table')}
${row(`chart of a ${POINTS.toLocaleString('en')}-point metric`, 1000, 'chart')}
${row('compare of 100 runs', 1000, 'compare')}
${row('chart view of 100 runs × 10 metrics', 1000, 'chartView')}
${row(`traces list, experiment of ${TRACES.toLocaleString('en')} traces (first page)`, 1000, 'traces')}

Where the time goes: the same API call the page makes, timed from node (median of ${REPEAT}):

| call | mlox | MLflow |
|---|---:|---:|
| \`runs/search\` first page (mlox: 200 runs; MLflow's UI asks for 100) | ${f(r.mlox?.apiSearch)} | ${f(r.mlflow?.apiSearch)} |
| \`get-history-bulk-interval\` over ${POINTS.toLocaleString('en')} points (mlox: max_results=1000; MLflow's UI: 320) | ${f(r.mlox?.apiInterval)} | ${f(r.mlflow?.apiInterval)} |
| \`traces/search\` (v3) first page of ${TRACES.toLocaleString('en')} traces, newest first (mlox: 50; MLflow's UI: 25) | ${f(r.mlox?.apiTraces)} | ${f(r.mlflow?.apiTraces)} |

Inside the page figures, the longest request for the page's data (resource timing in the page, median of ${REPEAT}); the rest is the browser (loading the app, rendering, drawing):

| page | mlox: data request / whole page | MLflow: data request / whole page |
|---|---:|---:|
| runs table (\`runs/search\`) | ${f(r.mlox?.table?.api)} / ${f(r.mlox?.table?.median)} | ${f(r.mlflow?.table?.api)} / ${f(r.mlflow?.table?.median)} |
| chart (\`get-history-bulk-interval\`) | ${f(r.mlox?.chart?.api)} / ${f(r.mlox?.chart?.median)} | ${f(r.mlflow?.chart?.api)} / ${f(r.mlflow?.chart?.median)} |
| compare (mlox \`runs/search\`; MLflow its longest \`/runs/\` call) | ${f(r.mlox?.compare?.api)} / ${f(r.mlox?.compare?.median)} | ${f(r.mlflow?.compare?.api)} / ${f(r.mlflow?.compare?.median)} |
| chart view (mlox \`get-history-bulk-interval\`, one per line panel; MLflow its longest \`get-history\` call) | ${f(r.mlox?.chartView?.api)} / ${f(r.mlox?.chartView?.median)} | ${f(r.mlflow?.chartView?.api)} / ${f(r.mlflow?.chartView?.median)} |
| traces list (\`traces/search\`) | ${f(r.mlox?.traces?.api)} / ${f(r.mlox?.traces?.median)} | ${f(r.mlflow?.traces?.api)} / ${f(r.mlflow?.traces?.median)} |

The MLflow pages measured: \`#/experiments/<id>/runs\` (runs table), \`#/experiments/<id>/runs/<id>/model-metrics\` (the run's metric charts), \`#/compare-runs?runs=[...]\`, \`#/experiments/<id>/runs?compareRunsMode=CHART\` (chart view, with "Show all runs" chosen once before timing; ${MLFLOW_CHART_REPEAT} navigations after a warm-up instead of ${REPEAT}, each takes about a minute), \`#/experiments/<id>/traces\` (traces list).
mlox's chart view is done when all 10 panels are drawn (5 line charts with points, 5 bar charts of 100 bars); MLflow's when the cards on screen are (it draws a card only once it scrolls into view): its 5 line charts with a trace per run and the first bar chart.
The traces list is done when the newest trace's row ("question 0") is shown.
`;
}
