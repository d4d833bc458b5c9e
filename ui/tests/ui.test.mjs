// Browser tests: the real mlox binary, data seeded through the REST API, Debian's
// chromium driven by playwright-core. Screenshots of every page go to
// .test-cache/ui-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, startServer, launch, client, colorPixels } from './lib.mjs';
import { seed, seedWide } from './seed.mjs';

const SHOTS = join(REPO, '.test-cache', 'ui-screenshots');
let server, ctx, page, data, api;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  api = client(server.url);
  data = await seed(server.url);
  ctx = await launch();
  page = await ctx.newPage();
  page.setDefaultTimeout(10000);
  page.on('pageerror', (e) => console.error('page error:', e.message));
});

after(async () => {
  await ctx?.close();
  await server?.stop();
});

const shot = (name) => page.screenshot({ path: join(SHOTS, name + '.png'), fullPage: false });
const go = (path) => page.goto(server.url + path);
const rowNames = () => page.locator('[data-testid=runs-grid] .g-row .run-link').allTextContents();

test('server: deep links get the app, API paths keep MLflow 404 JSON', async () => {
  for (const p of ['/', '/experiments/1', '/runs/abc/artifacts/x/y.txt', '/models/a%20b/versions/3', '/experiments/1/runs/abc', '/compare-runs?runs=%5B%22a%22%5D', '/metric/loss']) {
    const r = await fetch(server.url + p);
    assert.equal(r.status, 200, p);
    assert.match(r.headers.get('content-type'), /text\/html/);
    assert.match(await r.text(), /<div id="app">/);
  }
  const r = await fetch(server.url + '/ajax-api/2.0/mlflow/no-such-endpoint');
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error_code, 'ENDPOINT_NOT_FOUND');
});

test('experiments page lists, searches and creates experiments', async () => {
  await go('/');
  await page.locator('[data-testid=experiments]').getByText('ui-test-exp').waitFor();
  assert.ok(await page.getByText('ui-other-exp').isVisible());
  await shot('01-experiments');
  await page.fill('[data-testid=exp-search]', 'other');
  await page.press('[data-testid=exp-search]', 'Enter');
  await page.waitForFunction(() => !document.body.innerText.includes('ui-test-exp'));
  assert.ok(await page.getByText('ui-other-exp').isVisible());
  assert.match(page.url(), /q=other/);
  await page.fill('[data-testid=new-exp-name]', 'created-in-ui');
  await page.click('text=Create');
  await page.waitForURL(/\/experiments\/\d+/);
  const got = await api.get('experiments/get-by-name', { experiment_name: 'created-in-ui' });
  assert.equal(got.experiment.name, 'created-in-ui');
});

test('experiments can be renamed, deleted and restored', async () => {
  const id = await api.createExperiment('to-rename');
  await go('/');
  const row = page.locator('tr', { hasText: 'to-rename' });
  await row.getByRole('button', { name: 'Rename' }).click();
  await page.fill('[data-testid=rename-input]', 'renamed-exp');
  await page.press('[data-testid=rename-input]', 'Enter');
  await page.locator('tr', { hasText: 'renamed-exp' }).waitFor();
  assert.equal((await api.get('experiments/get', { experiment_id: id })).experiment.name, 'renamed-exp');
  page.once('dialog', (d) => d.accept());
  await page.locator('tr', { hasText: 'renamed-exp' }).getByRole('button', { name: 'Delete' }).click();
  await page.locator('tr', { hasText: 'renamed-exp' }).waitFor({ state: 'detached' });
  assert.equal((await api.get('experiments/get', { experiment_id: id })).experiment.lifecycle_stage, 'deleted');
  await go('/?view=DELETED_ONLY');
  await page.locator('tr', { hasText: 'renamed-exp' }).getByRole('button', { name: 'Restore' }).click();
  await page.locator('tr', { hasText: 'renamed-exp' }).waitFor({ state: 'detached' });
  assert.equal((await api.get('experiments/get', { experiment_id: id })).experiment.lifecycle_stage, 'active');
});

test('runs table: loads, filters server-side and sorts by a metric', async () => {
  await go(`/experiments/${data.exp}`);
  await page.locator('[data-testid=runs-grid] .g-row').first().waitFor();
  await page.getByText('27 runs').waitFor(); // 24 + 2 children + live
  await shot('02-runs');
  await page.fill('[data-testid=run-filter]', 'metrics.acc >= 0.5 AND params.lr = \'0.01\'');
  await page.press('[data-testid=run-filter]', 'Enter');
  await page.getByText('6 runs', { exact: true }).waitFor();
  const names = await rowNames();
  assert.equal(names.length, 6);
  for (const n of names) assert.ok(Number(n.slice(4)) >= 12 && Number(n.slice(4)) % 2 === 1, n);
  // Sort by acc descending, then ascending, via the column header.
  await go(`/experiments/${data.exp}?filter=${encodeURIComponent('metrics.acc >= 0')}`);
  await page.getByText('24 runs').waitFor();
  await page.locator('.g-hcell', { hasText: 'acc' }).locator('.h-sort').click();
  await page.waitForURL(/order=/);
  await page.waitForFunction(() => document.querySelector('[data-testid=runs-grid] .run-link')?.textContent === 'run-23');
  await page.locator('.g-hcell', { hasText: 'acc' }).locator('.h-sort').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=runs-grid] .run-link')?.textContent === 'run-00');
  assert.equal(new URL(page.url()).searchParams.get("order"), "metrics.`acc` ASC");
  await shot('03-runs-sorted');
});

test('runs table: an invalid filter shows the error where it occurs', async () => {
  const bad = "metrics.acc > 0.5 AND params.lr === '1'";
  await go(`/experiments/${data.exp}?filter=${encodeURIComponent(bad)}`);
  const err = page.locator('[data-testid=filter-error]');
  await err.waitFor();
  const text = await err.innerText();
  assert.match(text, /INVALID_PARAMETER_VALUE/);
  const mark = await page.locator('[data-testid=filter-error-mark]').innerText();
  assert.ok(mark.length > 0 && bad.includes(mark), `marked ${JSON.stringify(mark)}`);
  // The marked character is inside the broken comparison, not at the start.
  const pos = await page.evaluate(() => {
    const pre = document.querySelector('.err-query');
    return pre.textContent.indexOf(document.querySelector('[data-testid=filter-error-mark]').textContent);
  });
  assert.ok(pos >= bad.indexOf('params.lr'), `error marked at ${pos}`);
  await shot('04-runs-filter-error');
});

test('runs table: column chooser hides and shows columns', async () => {
  await go(`/experiments/${data.exp}`);
  await page.locator('.g-hcell', { hasText: 'optimizer' }).waitFor();
  await page.click('[data-testid=columns-btn]');
  await page.locator('[data-testid=column-chooser] label', { hasText: 'optimizer' }).locator('input').uncheck();
  await page.locator('.g-hcell', { hasText: 'optimizer' }).waitFor({ state: 'detached' });
  await page.locator('[data-testid=column-chooser] label', { hasText: 'team' }).locator('input').check();
  await page.locator('.g-hcell', { hasText: 'team' }).waitFor();
  await shot('05-column-chooser');
  await page.evaluate(() => localStorage.clear());
});

test('runs table: columns resize by dragging and pin to the left, remembered', async () => {
  await go(`/experiments/${data.exp}`);
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  const lr = page.locator('.g-hcell', { hasText: 'Duration' });
  await lr.waitFor();
  const w0 = (await lr.boundingBox()).width;
  const h = await lr.locator('[data-testid=col-resize]').boundingBox();
  await page.mouse.move(h.x + h.width / 2, h.y + h.height / 2);
  await page.mouse.down();
  await page.mouse.move(h.x + 80, h.y + h.height / 2, { steps: 4 });
  await page.mouse.up();
  const w1 = (await lr.boundingBox()).width;
  assert.ok(Math.abs(w1 - w0 - 80) <= 4, `${w0} -> ${w1}`);
  // Pin the acc metric: it moves into the frozen left block and stays in view when
  // the table scrolls right.
  await page.locator('.g-hcell', { hasText: 'acc' }).hover();
  await page.locator('.g-hcell', { hasText: 'acc' }).locator('[data-testid=pin-col]').click();
  await page.locator('.g-pin-head .pin-hcell', { hasText: 'acc' }).waitFor();
  assert.equal(await page.locator('.g-hcell', { hasText: 'acc' }).count(), 0);
  await page.locator('[data-testid=runs-grid]').evaluate((g) => (g.scrollLeft = g.scrollWidth));
  await page.waitForTimeout(200);
  const row = page.locator('[data-testid=runs-grid] .g-row', { hasText: 'run-05' });
  assert.ok(await row.locator('.pin-cell', { hasText: '0.208333' }).isVisible());
  await shot('05b-runs-pinned');
  await page.reload();
  await page.locator('.g-pin-head .pin-hcell', { hasText: 'acc' }).waitFor();
  assert.ok(Math.abs((await page.locator('.g-hcell', { hasText: 'Duration' }).boundingBox()).width - w1) <= 1);
  await page.evaluate(() => localStorage.clear());
});

test('runs table: group by a param, with run counts and metric means', async () => {
  await go(`/experiments/${data.exp}?filter=${encodeURIComponent('metrics.acc >= 0')}`);
  await page.getByText('24 runs').waitFor();
  await page.selectOption('[data-testid=group-by]', 'params.lr');
  await page.waitForURL(/group=params\.lr/);
  const groups = page.locator('[data-testid=runs-grid] .g-row.group');
  await groups.nth(1).waitFor();
  assert.equal(await groups.count(), 2);
  const g01 = page.locator('[data-testid=runs-grid] .g-row.group', { hasText: 'lr = 0.01' });
  assert.equal(await g01.locator('[data-testid=group-count]').innerText(), '12');
  // acc = i/24 for the odd i: mean 0.5; for the even i: 11/24.
  assert.ok(await g01.locator('.g-cell', { hasText: /^0\.5$/ }).isVisible());
  const g001 = page.locator('[data-testid=runs-grid] .g-row.group', { hasText: 'lr = 0.001' });
  assert.ok(await g001.locator('.g-cell', { hasText: '0.458333' }).isVisible());
  assert.equal(await page.locator('[data-testid=runs-grid] .run-link').count(), 0);
  await g01.locator('[data-testid=group-toggle]').click();
  await page.locator('[data-testid=runs-grid] .run-link', { hasText: 'run-23' }).waitFor();
  assert.equal(await page.locator('[data-testid=runs-grid] .run-link').count(), 12);
  await shot('05c-runs-grouped');
});

test('runs table: rename and delete/restore a run', async () => {
  const run = await api.createRun(data.other, 'rename-me');
  await go(`/experiments/${data.other}`);
  await page.locator('.g-row', { hasText: 'rename-me' }).locator('input[type=checkbox]').check();
  await page.click('text=Rename');
  await page.fill('[data-testid=rename-input]', 'renamed-run');
  await page.press('[data-testid=rename-input]', 'Enter');
  await page.locator('.g-row', { hasText: 'renamed-run' }).waitFor();
  assert.equal((await api.get('runs/get', { run_id: run.info.run_id })).run.info.run_name, 'renamed-run');
  await page.locator('.g-row', { hasText: 'renamed-run' }).locator('input[type=checkbox]').check();
  page.once('dialog', (d) => d.accept());
  await page.click('[data-testid=delete-runs]');
  await page.locator('.g-row', { hasText: 'renamed-run' }).waitFor({ state: 'detached' });
  assert.equal((await api.get('runs/get', { run_id: run.info.run_id })).run.info.lifecycle_stage, 'deleted');
  await go(`/experiments/${data.other}?view=DELETED_ONLY`);
  await page.locator('.g-row', { hasText: 'renamed-run' }).locator('input[type=checkbox]').check();
  await page.click('text=Restore');
  await page.locator('.g-row', { hasText: 'renamed-run' }).waitFor({ state: 'detached' });
  assert.equal((await api.get('runs/get', { run_id: run.info.run_id })).run.info.lifecycle_stage, 'active');
});

test('run page: overview, params, metrics, tags, description, datasets, children', async () => {
  await go(`/runs/${data.mainId}`);
  await page.locator('[data-testid=run-title]', { hasText: 'run-23' }).waitFor();
  assert.match(await page.locator('[data-testid=run-params]').innerText(), /optimizer\s+adam/);
  assert.match(await page.locator('[data-testid=run-metrics]').innerText(), /acc\s+0\.958333/);
  assert.match(await page.locator('[data-testid=description] h1').innerText(), /Best run/);
  assert.match(await page.locator('[data-testid=run-datasets]').innerText(), /mnist-train/);
  assert.match(await page.locator('[data-testid=child-runs]').innerText(), /child-0[\s\S]*child-1|child-1[\s\S]*child-0/);
  assert.match(await page.locator('.kv').first().innerText(), /abcdef012345/);
  await shot('06-run-overview');
  // Edit a tag and add one; both reach the server.
  await page.locator('[data-testid=run-tags] tr', { hasText: 'team' }).locator('.editable').click();
  await page.locator('[data-testid=run-tags] tr', { hasText: 'team' }).locator('input').fill('speech');
  await page.locator('[data-testid=run-tags] tr', { hasText: 'team' }).locator('input').press('Enter');
  await page.fill('[data-testid=tag-key]', 'reviewed');
  await page.fill('[data-testid=tag-value]', 'yes');
  await page.click('text=Add tag');
  await page.locator('[data-testid=run-tags] tr', { hasText: 'reviewed' }).waitFor();
  const tags = Object.fromEntries((await api.get('runs/get', { run_id: data.mainId })).run.data.tags.map((t) => [t.key, t.value]));
  assert.equal(tags.team, 'speech');
  assert.equal(tags.reviewed, 'yes');
  // Edit the description (markdown, tag mlflow.note.content).
  await page.click('[data-testid=edit-description]');
  await page.fill('[data-testid=description-input]', 'Now with a *list*:\n\n- one\n- two');
  await page.click('text=Save');
  await page.locator('[data-testid=description] li', { hasText: 'two' }).waitFor();
});

test('metric chart draws, with several runs overlaid, log scale and smoothing', async () => {
  await go(`/runs/${data.mainId}/metrics?key=loss`);
  const chart = page.locator('[data-testid=chart][data-metric=loss]').first();
  await chart.locator('canvas').waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=chart][data-metric=loss]')?.dataset.points) > 0);
  assert.equal(await chart.getAttribute('data-points'), '100');
  assert.ok((await colorPixels(chart.locator('canvas'), [37, 99, 235])) > 200, 'the loss line is drawn in the first series colour');
  await page.selectOption('[data-testid=x-mode]', 'relative');
  await page.check('[data-testid=log-scale]');
  await page.locator('[data-testid=smoothing]').fill('0.8');
  await page.waitForTimeout(300);
  assert.ok((await colorPixels(chart.locator('canvas'), [37, 99, 235])) > 200);
  await shot('07-run-charts');
});

test('chart zoom fetches the zoomed step range', async () => {
  await go(`/runs/${data.mainId}/metrics?key=loss`);
  const chart = page.locator('[data-testid=chart][data-metric=loss]').first();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=chart][data-metric=loss]')?.dataset.points) > 0);
  const over = chart.locator('.u-over');
  const b = await over.boundingBox();
  const req = page.waitForRequest((r) => r.url().includes('get-history-bulk-interval') && r.url().includes('start_step='));
  await page.mouse.move(b.x + b.width * 0.2, b.y + b.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width * 0.5, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
  const url = new URL((await req).url());
  const start = Number(url.searchParams.get('start_step'));
  const end = Number(url.searchParams.get('end_step'));
  assert.ok(start >= 10 && start <= 30 && end >= 40 && end <= 60, `${start}..${end}`);
  await page.getByText('at full detail').waitFor();
});

test('artifacts: browse and preview text, JSON, CSV, YAML, MLmodel and images', async () => {
  await go(`/runs/${data.mainId}/artifacts`);
  await page.locator('[data-testid=artifact-list]').getByText('notes.txt').waitFor();
  await page.locator('[data-testid=artifact-list]').getByText('notes.txt').click();
  await page.locator('[data-testid=artifact-preview] pre', { hasText: 'hello from the notes file' }).waitFor();
  assert.match(page.url(), /\/artifacts\/notes\.txt$/);
  const href = await page.locator('[data-testid=download]').getAttribute('href');
  const dl = await fetch(server.url + href);
  assert.equal(await dl.text(), 'hello from the notes file\nsecond line\n');
  await page.locator('[data-testid=artifact-list]').getByText('metrics.json').click();
  await page.locator('[data-testid=artifact-preview] pre', { hasText: '"accuracy": 0.97' }).waitFor();
  await page.locator('[data-testid=artifact-list]').getByText('config.yaml').click();
  await page.locator('[data-testid=artifact-preview] .y-key', { hasText: 'depth' }).waitFor();
  // Deep link into a folder's file.
  await go(`/runs/${data.mainId}/artifacts/data/table.csv`);
  await page.locator('[data-testid=csv-table] td', { hasText: 'be,ta' }).waitFor();
  assert.equal(await page.locator('[data-testid=csv-table] tbody tr').count(), 3);
  await shot('08-artifact-csv');
  await go(`/runs/${data.mainId}/artifacts/model/MLmodel`);
  assert.match(await page.locator('[data-testid=mlmodel-summary]').innerText(), /python_function[\s\S]*sklearn/);
  await shot('09-artifact-mlmodel');
  await go(`/runs/${data.mainId}/artifacts/plot.png`);
  await page.waitForFunction(() => document.querySelector('.art-img')?.naturalWidth === 1);
});

test('compare: side by side with differences, scatter and parallel coordinates', async () => {
  await go(`/experiments/${data.exp}?filter=${encodeURIComponent('metrics.acc >= 0')}&order=${encodeURIComponent('metrics.`acc` DESC')}`);
  await page.waitForFunction(() => document.querySelector('[data-testid=runs-grid] .run-link')?.textContent === 'run-23');
  const boxes = page.locator('[data-testid=runs-grid] .g-row .g-pin input[type=checkbox]');
  for (let i = 0; i < 4; i++) await boxes.nth(i).check();
  await page.click('[data-testid=compare-btn]');
  await page.locator('[data-testid=compare-title]', { hasText: 'Comparing 4 runs' }).waitFor();
  const lr = page.locator('[data-testid=compare-table] tr', { hasText: 'lr' });
  assert.equal(await lr.getAttribute('data-diff'), '1');
  assert.match(await page.locator('[data-testid=compare-table] thead').innerText(), /run-23[\s\S]*run-22[\s\S]*run-21[\s\S]*run-20/);
  await page.check('[data-testid=only-diff]');
  assert.equal(await page.locator('[data-testid=compare-table] tbody tr[data-diff="0"]').count(), 0);
  await page.selectOption('[data-testid=scatter-x]', 'params:lr');
  await page.selectOption('[data-testid=scatter-y]', 'metrics:acc');
  await page.waitForFunction(() => document.querySelector('[data-testid=scatter]')?.dataset.points === '4');
  await page.waitForFunction(() => document.querySelector('[data-testid=parallel]')?.dataset.lines === '4');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=chart]')?.dataset.points) === 4);
  await shot('10-compare');
});

test('registry: models list, model versions with stages, aliases and source runs', async () => {
  await go('/models');
  await page.locator('[data-testid=models]').getByText('ui-model', { exact: true }).waitFor();
  assert.match(await page.locator('[data-testid=models] tr', { hasText: 'ml-team' }).innerText(), /@champion → v2/);
  await shot('11-models');
  await page.locator('[data-testid=models]').getByText('ui-model', { exact: true }).click();
  await page.locator('[data-testid=model-versions] tbody tr').nth(1).waitFor();
  assert.equal(await page.locator('[data-testid=model-versions] tbody tr').count(), 2);
  const v1 = page.locator('[data-testid=model-versions] tbody tr', { hasText: 'Version 1' });
  assert.equal(await v1.locator('select').inputValue(), 'Production');
  assert.ok(await v1.locator(`a[href="/runs/${data.mainId}"]`).isVisible());
  await shot('12-model');
  // Stage transition from the UI reaches the registry.
  const v2 = page.locator('[data-testid=model-versions] tbody tr', { hasText: 'Version 2' });
  await v2.locator('select').selectOption('Staging');
  await page.waitForFunction(async () => true);
  await page.waitForTimeout(300);
  const mv = await api.get('model-versions/get', { name: 'ui-model', version: '2' });
  assert.equal(mv.model_version.current_stage, 'Staging');
  await go('/models/ui-model/versions/2');
  await page.locator('[data-testid=version-title]', { hasText: 'version 2' }).waitFor();
  assert.match(await page.locator('.kv').first().innerText(), /@champion/);
  await shot('13-model-version');
});

test('live: a running run refreshes its metrics and charts without reload', async () => {
  await go(`/runs/${data.liveId}`);
  await page.getByText('● live').waitFor();
  await api.logBatch(data.liveId, { metrics: [{ key: 'live_metric', value: 42, timestamp: Date.now(), step: 1 }, { key: 'new_metric', value: 7, timestamp: Date.now(), step: 0 }] });
  await page.locator('[data-testid=run-metrics]', { hasText: 'new_metric' }).waitFor({ timeout: 8000 });
  assert.match(await page.locator('[data-testid=run-metrics]').innerText(), /live_metric\s+42/);
  await page.click('text=Model metrics');
  await page.waitForFunction(() => document.querySelector('[data-testid=chart][data-metric=live_metric]')?.dataset.points === '2');
  await api.logBatch(data.liveId, { metrics: [{ key: 'live_metric', value: 50, timestamp: Date.now(), step: 2 }] });
  await page.waitForFunction(() => document.querySelector('[data-testid=chart][data-metric=live_metric]')?.dataset.points === '3', null, { timeout: 8000 });
  await api.finish(data.liveId);
  await page.getByText('● live').waitFor({ state: 'detached', timeout: 8000 });
});

test('runs table virtualizes rows and columns and pages through the API', async () => {
  const exp = await seedWide(server.url, 1500, 200);
  await go(`/experiments/${exp}`);
  await page.locator('[data-testid=runs-grid] .g-row').first().waitFor();
  await page.getByText('200 runs loaded').waitFor();
  const cells = await page.locator('[data-testid=runs-grid] .g-cell').count();
  assert.ok(cells < 2500, `${cells} cells in the DOM for 200 rows × 206 columns`);
  assert.ok((await page.locator('.g-hcell').count()) < 40);
  // Scroll right: far columns appear, the first ones leave the DOM.
  await page.locator('[data-testid=runs-grid]').evaluate((g) => (g.scrollLeft = g.scrollWidth));
  await page.locator('.g-hcell', { hasText: 'p199' }).waitFor();
  assert.equal(await page.locator('.g-hcell', { hasText: 'p000' }).count(), 0);
  // Scroll down repeatedly: more pages load through next_page_token.
  for (let i = 0; i < 10 && !(await page.getByText('1,500 runs').isVisible()); i++) {
    await page.locator('[data-testid=runs-grid]').evaluate((g) => (g.scrollTop = g.scrollHeight));
    await page.waitForTimeout(400);
  }
  await page.getByText('1,500 runs').waitFor();
  assert.ok((await page.locator('[data-testid=runs-grid] .g-row').count()) < 120);
  await shot('14-runs-wide');
});

test('live: a slow server never sees refreshes pile up or get cancelled', async () => {
  const run = await api.createRun(data.exp, 'slow-live-run', Date.now());
  const id = run.info.run_id;
  await api.logBatch(id, { metrics: [{ key: 'slow', value: 1, timestamp: Date.now(), step: 0 }] });
  let started = 0;
  const failed = [];
  // Every history request answers only after 4 s: longer than the refresh period.
  await page.route('**/get-history-bulk-interval*', async (route) => {
    started++;
    await new Promise((r) => setTimeout(r, 4000));
    await route.continue().catch(() => {});
  });
  const onFail = (r) => r.url().includes('get-history-bulk-interval') && failed.push(r.failure()?.errorText);
  page.on('requestfailed', onFail);
  try {
    await go(`/runs/${id}/metrics?key=slow`);
    await page.waitForFunction(() => document.querySelector('[data-testid=chart][data-metric=slow]')?.dataset.points === '1', null, { timeout: 9000 });
    await page.waitForTimeout(5000);
    // ~9 s at most: the first request (4 s), a 3 s pause, a second one in flight.
    assert.ok(started <= 3, `${started} history requests in ~9 s`);
    assert.deepEqual(failed, []);
  } finally {
    page.off('requestfailed', onFail);
    await page.unroute('**/get-history-bulk-interval*');
    await api.finish(id);
  }
});
