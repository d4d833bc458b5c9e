// Browser tests of the traces pages (issue 15) on traces logged by the official MLflow
// client (tests/seed_traces.py): the list with the trace filter language and paging, and the
// trace view (span tree, a span's attributes, an exception event, adding feedback). The
// time to open a 5,000-span trace is printed for bench/UI_RESULTS.md, not asserted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, startServer, launch } from './lib.mjs';

let server, ctx, page, seed;
const SHOTS = join(REPO, '.test-cache', 'ui-screenshots');
const shot = (name) => page.screenshot({ path: join(SHOTS, name + '.png'), fullPage: false });

function seedTraces(url) {
  const py = process.env.MLOX_PYTHON || join(REPO, '.venv', 'bin', 'python');
  if (!existsSync(py)) throw new Error(`${py} not found (set MLOX_PYTHON)`);
  return new Promise((resolve, reject) => {
    const child = spawn(py, [join(REPO, 'ui', 'tests', 'seed_traces.py'), url], {
      env: { ...process.env, MLFLOW_TRACKING_URI: url, PYTHONUNBUFFERED: '1', MLFLOW_ENABLE_ASYNC_TRACE_LOGGING: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '',
      err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('SEED:'));
      if (code !== 0 || !line) return reject(new Error(`seed_traces.py exited ${code}:\n${out}\n${err}`));
      resolve(JSON.parse(line.slice(5)));
    });
  });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  seed = await seedTraces(server.url);
  ctx = await launch();
  page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => console.error('page error:', e.message));
});

after(async () => {
  await ctx?.close();
  await server?.stop();
});

const rows = () => page.locator('[data-testid=trace-row]');

test('traces list: newest first, filter language, errors, paging', async () => {
  await page.goto(`${server.url}/#/experiments/${seed.exp}/traces`);
  await rows().first().waitFor();
  assert.equal(await rows().count(), 50);
  await shot('40-traces-list');
  // The newest trace (the big one) comes first.
  assert.match(await rows().first().innerText(), new RegExp(seed.big));
  await page.locator('[data-testid=traces-next]').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=trace-row]').length === 8);
  await page.locator('[data-testid=traces-prev]').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=trace-row]').length === 50);

  await page.locator('[data-testid=trace-filter]').fill("tags.team = 'qa'");
  await page.locator('[data-testid=trace-filter]').press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=trace-row]').length === 2);
  const text = await page.locator('[data-testid=traces]').innerText();
  assert.ok(text.includes(seed.small[0]) && text.includes(seed.small[1]));
  assert.match(text, /team=qa/);

  await page.locator('[data-testid=trace-filter]').fill("trace.status = 'ERROR'");
  await page.locator('[data-testid=trace-filter]').press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=trace-row]').length === 1);
  assert.match(await rows().first().innerText(), new RegExp(seed.failed));

  await page.locator('[data-testid=trace-filter]').fill('nonsense.key = 1');
  await page.locator('[data-testid=trace-filter]').press('Enter');
  await page.locator('[data-testid=trace-error]').waitFor();
  assert.match(await page.locator('[data-testid=trace-error]').innerText(), /Invalid/);
});

test('trace view: span tree, attributes, exception event, feedback', async () => {
  await page.goto(`${server.url}/#/experiments/${seed.exp}/traces?selectedEvaluationId=${seed.small[5]}`);
  await page.locator('[data-testid=span-name]', { hasText: 'lookup' }).waitFor();
  const names = await page.locator('[data-testid=span-name]').allInnerTexts();
  assert.deepEqual(names, ['answer', 'lookup']);
  await page.locator('[data-testid=span-name]', { hasText: 'lookup' }).click();
  const detail = await page.locator('[data-testid=span-detail]').innerText();
  assert.match(detail, /about q5/);
  assert.match(await page.locator('[data-testid=span-attributes]').innerText(), /mlflow\.spanType\s+"?RETRIEVER/);
  await shot('41-trace-view');

  await page.locator('[data-testid=feedback-name]').fill('helpful');
  await page.locator('[data-testid=feedback-value]').fill('true');
  await page.getByRole('button', { name: 'Add feedback' }).click();
  await page.locator('[data-testid=assessment]', { hasText: 'helpful' }).waitFor();
  // It was stored: the list shows it too.
  const r = await fetch(`${server.url}/api/3.0/mlflow/traces/${seed.small[5]}`);
  const info = (await r.json()).trace.trace_info;
  const fb = info.assessments.find((a) => a.assessment_name === 'helpful');
  assert.equal(fb.feedback.value, true);
  assert.equal(fb.source.source_type, 'HUMAN');

  await page.goto(`${server.url}/#/experiments/${seed.exp}/traces?selectedEvaluationId=${seed.failed}`);
  await page.locator('[data-testid=span-event]').waitFor();
  const ev = await page.locator('[data-testid=span-event]').innerText();
  assert.match(ev, /exception/);
  assert.match(ev, /bad input 7/);
  await shot('42-trace-exception');
});

test('a run page links to its traces', async () => {
  await page.goto(`${server.url}/experiments/${seed.exp}/runs/${seed.run}`);
  await page.locator('[data-testid=run-traces-link]').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=trace-row]').length === 1);
  assert.match(await rows().first().innerText(), new RegExp(seed.in_run));
});

test('a trace of 5,000 spans opens (timing printed for bench/UI_RESULTS.md)', async () => {
  await page.goto(`${server.url}/experiments/${seed.exp}/traces`);
  await rows().first().waitFor();
  const t0 = Date.now();
  await page.goto(`${server.url}/experiments/${seed.exp}/traces?selectedEvaluationId=${seed.big}`);
  await page.locator('[data-testid=span-count]', { hasText: '5001 spans' }).waitFor();
  await page.locator('[data-testid=span-name]', { hasText: 'step-49' }).waitFor();
  const elapsed = Date.now() - t0;
  console.log(`UI_BENCH open_trace_5000_spans_ms=${elapsed}`);
  // Lazily expanded: the root and its 50 children are drawn, not 5,001 rows.
  assert.equal(await page.locator('[data-testid=span-row]').count(), 51);
  await page.locator('[data-testid=span-toggle]').first().click();
  assert.equal(await page.locator('[data-testid=span-row]').count(), 150);
  await shot('43-trace-5000-spans');
});
