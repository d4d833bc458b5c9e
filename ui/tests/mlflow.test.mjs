// Browser tests of MLflow's UI routes and MLflow 3 pages: data logged by the official
// MLflow client (tests/seed_mlflow.py, run with the repo's venv or MLOX_PYTHON), the real
// mlox binary, Debian's chromium. Screenshots go to .test-cache/ui-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, startServer, launch, client, pool } from './lib.mjs';

const SHOTS = join(REPO, '.test-cache', 'ui-screenshots');
let server, ctx, page, api, seed, printed, chartExp, chartRuns;

function python() {
  const py = process.env.MLOX_PYTHON || join(REPO, '.venv', 'bin', 'python');
  if (!existsSync(py)) throw new Error(`${py} not found: the UI tests log data with the official MLflow client (scripts/test.sh builds .venv; or set MLOX_PYTHON)`);
  return py;
}

/** Runs tests/seed_mlflow.py against the server: the client's stdout and its ids. */
function seedWithClient(url) {
  return new Promise((resolve, reject) => {
    const child = spawn(python(), [join(REPO, 'ui', 'tests', 'seed_mlflow.py'), url], {
      env: { ...process.env, MLFLOW_TRACKING_URI: url, PYTHONUNBUFFERED: '1', GIT_PYTHON_REFRESH: 'quiet' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '',
      err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('SEED:'));
      if (code !== 0 || !line) return reject(new Error(`seed_mlflow.py exited ${code}:\n${out}\n${err}`));
      resolve({ out, ids: JSON.parse(line.slice(5)) });
    });
  });
}

/** 100 runs × 10 metrics: 5 histories of 200 steps, 5 single values (one constant). */
async function seedCharts(base) {
  const c = client(base);
  const exp = await c.createExperiment('chart-exp');
  const t0 = Date.UTC(2026, 10, 2, 9, 0, 0);
  const ids = [];
  await pool(Array.from({ length: 100 }, (_, i) => i), 8, async (i) => {
    const run = await c.createRun(exp, `chart-run-${String(i).padStart(3, '0')}`, t0 + i * 1000);
    const metrics = [];
    for (let k = 0; k < 5; k++) for (let s = 0; s < 200; s++) metrics.push({ key: `curve_${k}`, value: Math.exp(-s / (30 + i + k * 10)) + k, timestamp: t0 + s * 100, step: s });
    for (let k = 0; k < 4; k++) metrics.push({ key: `final_${k}`, value: (i % 10) / 10 + k, timestamp: t0, step: 0 });
    metrics.push({ key: 'constant', value: 0.5, timestamp: t0, step: 0 });
    for (let k = 0; k < metrics.length; k += 900) await c.logBatch(run.info.run_id, { metrics: metrics.slice(k, k + 900), params: k ? [] : [{ key: 'width', value: String(32 * (1 + (i % 3))) }] });
    ids[i] = run.info.run_id;
  });
  return { exp, ids };
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  api = client(server.url);
  const s = await seedWithClient(server.url);
  seed = s.ids;
  printed = s.out;
  ({ exp: chartExp, ids: chartRuns } = await seedCharts(server.url));
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

test('the links the MLflow client prints open the run and the experiment', async () => {
  const run = /View run parent-run at: (\S+)/.exec(printed);
  const exp = /View experiment at: (\S+)/.exec(printed);
  assert.ok(run && exp, 'the client printed its links:\n' + printed);
  assert.match(run[1], /\/#\/experiments\/\d+\/runs\/[0-9a-f]{32}$/);
  await page.goto(run[1]);
  await page.locator('[data-testid=run-title]', { hasText: 'parent-run' }).waitFor();
  // The hash link became the path form of the same page.
  assert.equal(new URL(page.url()).pathname, `/experiments/${seed.exp}/runs/${seed.parent}`);
  assert.match(await page.locator('[data-testid=run-params]').innerText(), /solver\s+lbfgs/);
  await shot('20-run-from-client-link');
  await page.goto(exp[1]);
  await page.locator('[data-testid=experiment-title]', { hasText: 'client-exp' }).waitFor();
  await page.locator('[data-testid=runs-grid] .run-link', { hasText: 'parent-run' }).waitFor();
});

test("every MLflow UI route opens its page, in hash and path form", async () => {
  const q = (v) => encodeURIComponent(JSON.stringify(v));
  const routes = [
    [`/experiments/${seed.exp}`, () => page.locator('[data-testid=runs-grid] .run-link', { hasText: 'parent-run' }).waitFor()],
    [`/experiments/${seed.exp}/runs`, () => page.locator('[data-testid=runs-grid] .run-link', { hasText: 'parent-run' }).waitFor()],
    [`/experiments/${seed.exp}/runs/${seed.parent}`, () => page.locator('[data-testid=run-title]', { hasText: 'parent-run' }).waitFor()],
    [`/experiments/${seed.exp}/runs/${seed.parent}/artifacts`, () => page.locator('[data-testid=artifact-list]').getByText('report.html').waitFor()],
    [`/experiments/${seed.exp}/runs/${seed.parent}/model-metrics`, () => page.locator('[data-testid=chart][data-metric=loss]').waitFor()],
    [`/experiments/${seed.exp}/runs/${seed.parent}/system-metrics`, () => page.locator('[data-testid=chart][data-metric="system/cpu_utilization_percentage"]').waitFor()],
    [`/compare-runs?runs=${q([seed.parent, ...seed.children])}&experiments=${q([seed.exp])}`, () => page.locator('[data-testid=compare-title]', { hasText: 'Comparing 3 runs' }).waitFor()],
    [`/metric/loss?runs=${q([seed.parent])}&experiments=${q([seed.exp])}`, async () => {
      await page.locator('[data-testid=compare-title]', { hasText: 'Comparing 1 runs' }).waitFor();
      assert.equal(await page.locator('[data-testid=compare-metric]').inputValue(), 'loss');
    }],
    ['/models', () => page.locator('[data-testid=models]').getByText(seed.model_name, { exact: true }).waitFor()],
    [`/models/${seed.model_name}`, () => page.locator('[data-testid=model-title]', { hasText: seed.model_name }).waitFor()],
    [`/models/${seed.model_name}/versions/1`, () => page.locator('[data-testid=version-title]', { hasText: 'version 1' }).waitFor()],
    [`/experiments/${seed.exp}/models`, () => page.locator('[data-testid=logged-models]').getByText('iris-clf').waitFor()],
    [`/experiments/${seed.exp}/models/${seed.model_id}`, () => page.locator('[data-testid=logged-model-title]', { hasText: 'iris-clf' }).waitFor()],
    [`/experiments/${seed.exp}/traces`, () => page.locator('[data-testid=no-traces]').waitFor()],
    [`/compare-experiments/s?experiments=${q([seed.exp, chartExp])}`, () => page.locator('[data-testid=experiment-title]', { hasText: 'client-exp · chart-exp' }).waitFor()],
  ];
  for (const [path, check] of routes) {
    for (const form of ['hash', 'path']) {
      await page.goto('about:blank');
      await go(form === 'hash' ? '/#' + path : path);
      try {
        await check();
      } catch (e) {
        throw new Error(`${form} form of ${path}: ${e.message}`);
      }
      assert.equal(new URL(page.url()).pathname, path.split('?')[0], `${form} form of ${path} ends on its path`);
      assert.equal(await page.getByText('Not found').count(), 0, path);
    }
  }
  await go(`/experiments/${seed.exp}/models`);
  await page.locator('[data-testid=logged-models]').getByText('iris-clf').waitFor();
  await shot('21-logged-models');
  await go(`/experiments/${seed.exp}/traces`);
  await page.locator('[data-testid=no-traces]').waitFor();
  await shot('22-traces-empty');
});

test('logged model page: metrics, params, signature, input example, registered version, artifacts', async () => {
  await go(`/experiments/${seed.exp}/models/${seed.model_id}`);
  await page.locator('[data-testid=logged-model-title]', { hasText: 'iris-clf' }).waitFor();
  const sig = page.locator('[data-testid=model-signature]');
  await sig.waitFor();
  assert.match(await sig.innerText(), /sepal_length\s+double[\s\S]*petal_width\s+double[\s\S]*Outputs[\s\S]*long/);
  assert.match(await page.locator('[data-testid=input-example]').innerText(), /sepal_length[\s\S]*5\.1/);
  assert.match(await page.locator('[data-testid=logged-model-metrics]').innerText(), /val_f1\s+0\.88/);
  assert.doesNotMatch(await page.locator('[data-testid=logged-model-metrics]').innerText(), /system\//);
  assert.match(await page.locator('[data-testid=logged-model-params]').innerText(), /C\s+1\.0/);
  assert.match(await page.locator('[data-testid=logged-model-versions]').innerText(), /client-model v1/);
  assert.match(await page.locator('[data-testid=logged-model-details]').innerText(), /parent-run/);
  await shot('23-logged-model');
  await page.getByRole('link', { name: 'Artifacts', exact: true }).click();
  await page.locator('[data-testid=artifact-list]').getByText('MLmodel').click();
  assert.match(await page.locator('[data-testid=mlmodel-summary]').innerText(), /sklearn/);
  assert.match(page.url(), new RegExp(`/models/${seed.model_id}/artifacts/MLmodel$`));
});

test('run pages list their logged models; versions link their source logged model', async () => {
  await go(`/runs/${seed.parent}`);
  const lm = page.locator('[data-testid=run-logged-models]');
  await lm.getByText('iris-clf').click();
  await page.locator('[data-testid=logged-model-title]', { hasText: 'iris-clf' }).waitFor();
  await go(`/models/${seed.model_name}/versions/1`);
  await page.locator('[data-testid=model-signature]').waitFor();
  assert.match(await page.locator('[data-testid=model-signature]').innerText(), /sepal_length/);
  await page.locator('[data-testid=version-logged-model]', { hasText: 'iris-clf' }).click();
  await page.waitForURL(new RegExp(`/experiments/${seed.exp}/models/${seed.model_id}$`));
  await page.locator('[data-testid=logged-model-title]', { hasText: 'iris-clf' }).waitFor();
});

test('run page: system/* metrics only in the system-metrics tab, not in the Metrics table or model charts', async () => {
  await go(`/runs/${seed.parent}`);
  const table = page.locator('[data-testid=run-metrics]');
  await table.getByText('loss', { exact: true }).waitFor();
  const keys = await table.locator('tr td:first-child').allTextContents();
  assert.ok(keys.includes('loss') && keys.includes('accuracy'), keys.join(','));
  assert.ok(!keys.some((k) => k.startsWith('system/')), keys.join(','));
  await page.locator('[data-testid=system-metrics-link]', { hasText: '1 system metric' }).click();
  await page.waitForURL(new RegExp(`/runs/${seed.parent}/system$`));
  await page.locator('[data-testid=chart][data-metric="system/cpu_utilization_percentage"]').waitFor();
  const drawn = () => page.locator('[data-testid=chart]').evaluateAll((l) => l.map((e) => e.dataset.metric).sort());
  assert.deepEqual(await drawn(), ['system/cpu_utilization_percentage']);
  await shot('32-run-system-metrics');
  await page.locator('.tabs a', { hasText: `Model metrics (${keys.length})` }).click();
  await page.locator('[data-testid=chart][data-metric=loss]').waitFor();
  assert.deepEqual(await drawn(), [...keys].sort());
});

test('run page: images logged with log_image(key=, step=) in a grid with a step slider', async () => {
  await go(`/runs/${seed.parent}`);
  const card = page.locator('[data-testid=image-card][data-key="samples/rgb"]');
  await card.waitFor();
  assert.equal(await card.locator('[data-testid=image-step]').innerText(), 'step 2');
  await page.waitForFunction(() => document.querySelector('[data-testid=image-card] img')?.naturalWidth > 0);
  await card.locator('[data-testid=image-slider]').fill('0');
  assert.equal(await card.locator('[data-testid=image-step]').innerText(), 'step 0');
  await page.waitForFunction(() => document.querySelector('[data-testid=image-card] img')?.complete && document.querySelector('[data-testid=image-card] img').naturalWidth > 0);
  await page.locator('[data-testid=run-images]').scrollIntoViewIfNeeded();
  await shot('29-run-images');
});

test('runs table: Models and Datasets columns (MLflow 3 run outputs and inputs)', async () => {
  await go(`/experiments/${seed.exp}`);
  const row = page.locator('[data-testid=runs-grid] .g-row', { hasText: 'parent-run' });
  await row.locator('.g-cell', { hasText: 'iris-train · training' }).waitFor();
  await row.locator('.g-cell a', { hasText: 'iris-clf' }).click();
  await page.locator('[data-testid=logged-model-title]', { hasText: 'iris-clf' }).waitFor();
  assert.equal(new URL(page.url()).pathname, `/experiments/${seed.exp}/models/${seed.model_id}`);
});

test('Markdown: code spans and fenced blocks render as code, raw HTML stays text', async () => {
  await go(`/runs/${seed.parent}`);
  const d = page.locator('[data-testid=description]');
  await d.waitFor();
  assert.equal(await d.locator('p code').innerText(), 'x -> y');
  assert.equal((await d.locator('pre code').innerText()).trim(), '<b>not bold</b> & more');
  assert.equal(await d.locator('b').count(), 0);
  await go(`/experiments/${seed.exp}`);
  const e = page.locator('[data-testid=experiment-description]');
  await e.waitFor();
  assert.equal(await e.locator('code').first().innerText(), 'a > b && c < d');
  assert.doesNotMatch(await e.innerText(), /&gt;|&amp;|&lt;/);
});

test('artifacts: HTML rendered in a sandboxed iframe; long names stay inside the tree', async () => {
  await go(`/runs/${seed.parent}/artifacts/report.html`);
  const frame = page.locator('[data-testid=html-preview]');
  await frame.waitFor();
  assert.equal(await frame.getAttribute('sandbox'), 'allow-scripts');
  // The report's own script ran (inside the sandbox).
  await page.frameLocator('[data-testid=html-preview]').locator('h1', { hasText: 'HTML report rendered' }).waitFor();
  // A sandboxed frame has an opaque origin: it cannot reach the app's storage.
  await shot('24-artifact-html');
  const list = await page.locator('[data-testid=artifact-list]').boundingBox();
  const item = page.locator('.art-item', { hasText: 'a_rather_long' });
  const name = await item.locator('.art-name').boundingBox();
  const size = await item.locator('.art-size').boundingBox();
  assert.ok(name.x + name.width <= list.x + list.width, 'the name ends inside the tree');
  assert.ok(size.x + size.width <= list.x + list.width + 0.5, 'the size stays visible');
  assert.ok(await item.locator('.art-name').evaluate((el) => el.scrollWidth > el.clientWidth), 'the long name is ellipsized');
});

test('nested runs: an expandable tree; deleted runs marked in the All view', async () => {
  await go(`/experiments/${seed.exp}`);
  const parentRow = page.locator('[data-testid=runs-grid] .g-row', { hasText: 'parent-run' });
  await parentRow.waitFor();
  assert.equal(await page.locator('[data-testid=runs-grid] .run-link', { hasText: 'child-0' }).count(), 0, 'children folded under their parent');
  await parentRow.locator('[data-testid=tree-toggle]').click();
  await page.locator('[data-testid=runs-grid] .run-link', { hasText: 'child-0' }).waitFor();
  const names = await page.locator('[data-testid=runs-grid] .g-row .run-link').allTextContents();
  const p = names.indexOf('parent-run');
  assert.deepEqual(names.slice(p + 1, p + 3).sort(), ['child-0', 'child-1'], names.join(','));
  const indent = await page.locator('.g-row', { hasText: 'child-0' }).locator('.tree-indent').evaluate((el) => el.offsetWidth);
  assert.ok(indent >= 16, `children indented (${indent}px)`);
  await shot('25-runs-tree');
  await parentRow.locator('[data-testid=tree-toggle]').click();
  await page.locator('[data-testid=runs-grid] .run-link', { hasText: 'child-0' }).waitFor({ state: 'detached' });
  await go(`/experiments/${seed.exp}?view=ALL`);
  const gone = page.locator('[data-testid=runs-grid] .g-row', { hasText: 'deleted-run' });
  await gone.locator('.badge-deleted').waitFor();
  assert.match(await gone.getAttribute('class'), /deleted/);
  assert.equal(await page.locator('[data-testid=runs-grid] .g-row', { hasText: 'parent-run' }).locator('.badge-deleted').count(), 0);
});

test('registry edits persist: descriptions, tags, deletes', async () => {
  await api.post('registered-models/create', { name: 'edit-model' });
  for (let i = 0; i < 2; i++) await api.post('model-versions/create', { name: 'edit-model', source: `models:/${seed.model_id}`, run_id: seed.parent, model_id: seed.model_id });
  await go('/models/edit-model');
  await page.locator('[data-testid=model-title]', { hasText: 'edit-model' }).waitFor();
  await page.click('[data-testid=edit-model-description]');
  await page.fill('[data-testid=model-description-input]', 'Use `predict(x) > 0.5` for **labels**.');
  await page.click('[data-testid=save-model-description]');
  await page.locator('[data-testid=model-description] code', { hasText: 'predict(x) > 0.5' }).waitFor();
  await page.fill('[data-testid=model-tags-key]', 'team');
  await page.fill('[data-testid=model-tags-value]', 'fraud');
  await page.locator('[data-testid=model-tags-value]').press('Enter');
  await page.locator('[data-testid=model-tags] tr', { hasText: 'fraud' }).waitFor();
  await page.locator('[data-testid=model-tags] tr', { hasText: 'team' }).locator('.editable').click();
  await page.locator('[data-testid=model-tags] tr', { hasText: 'team' }).locator('input').fill('risk');
  await page.locator('[data-testid=model-tags] tr', { hasText: 'team' }).locator('input').press('Enter');
  await page.locator('[data-testid=model-tags] tr', { hasText: 'risk' }).waitFor();
  let m = (await api.get('registered-models/get', { name: 'edit-model' })).registered_model;
  assert.equal(m.description, 'Use `predict(x) > 0.5` for **labels**.');
  assert.deepEqual(m.tags, [{ key: 'team', value: 'risk' }]);
  await shot('26-model-edit');
  // A version: description and tags, then delete it.
  await go('/models/edit-model/versions/2');
  await page.click('[data-testid=edit-version-description]');
  await page.fill('[data-testid=version-description-input]', 'Candidate *two*');
  await page.click('[data-testid=save-version-description]');
  await page.locator('[data-testid=version-description] em', { hasText: 'two' }).waitFor();
  await page.fill('[data-testid=version-tags-key]', 'validated');
  await page.fill('[data-testid=version-tags-value]', 'yes');
  await page.locator('[data-testid=version-tags-value]').press('Enter');
  await page.locator('[data-testid=version-tags] tr', { hasText: 'validated' }).waitFor();
  let v = (await api.get('model-versions/get', { name: 'edit-model', version: '2' })).model_version;
  assert.equal(v.description, 'Candidate *two*');
  assert.deepEqual(v.tags, [{ key: 'validated', value: 'yes' }]);
  await page.locator('[data-testid=version-tags] tr', { hasText: 'validated' }).locator('[data-testid=delete-tag]').click();
  await page.locator('[data-testid=version-tags] tr', { hasText: 'validated' }).waitFor({ state: 'detached' });
  v = (await api.get('model-versions/get', { name: 'edit-model', version: '2' })).model_version;
  assert.equal(v.tags, undefined);
  page.once('dialog', (d) => d.accept());
  await page.click('[data-testid=delete-version]');
  await page.waitForURL(/\/models\/edit-model$/);
  await page.locator('[data-testid=model-versions] tbody tr').first().waitFor();
  assert.equal(await page.locator('[data-testid=model-versions] tbody tr').count(), 1);
  const list = (await api.get('model-versions/search', { filter: "name = 'edit-model'" })).model_versions;
  assert.deepEqual(list.map((x) => x.version), ['1']);
  // The whole model.
  page.once('dialog', (d) => d.accept());
  await page.click('[data-testid=delete-model]');
  await page.waitForURL(/\/models$/);
  const r = await fetch(server.url + '/api/2.0/mlflow/registered-models/get?name=edit-model');
  assert.equal(r.status, 404);
});

test('register a logged model: under a new name, then as a new version of an existing one', async () => {
  await go(`/experiments/${seed.exp}/models/${seed.model_id}`);
  await page.click('[data-testid=register-model]');
  await page.fill('[data-testid=register-name]', 'registered-in-ui');
  await page.click('[data-testid=register-submit]');
  await page.waitForURL(/\/models\/registered-in-ui\/versions\/1$/);
  await page.locator('[data-testid=version-title]', { hasText: 'version 1' }).waitFor();
  const v = (await api.get('model-versions/get', { name: 'registered-in-ui', version: '1' })).model_version;
  assert.equal(v.source, `models:/${seed.model_id}`);
  assert.equal(v.run_id, seed.parent);
  await go(`/experiments/${seed.exp}/models/${seed.model_id}`);
  await page.click('[data-testid=register-model]');
  await page.locator('[data-testid=register-choice] option', { hasText: seed.model_name }).waitFor({ state: 'attached' });
  await page.selectOption('[data-testid=register-choice]', seed.model_name);
  await page.click('[data-testid=register-submit]');
  await page.waitForURL(new RegExp(`/models/${seed.model_name}/versions/2$`));
  // The logged model lists both registrations, as after the client's own register_model.
  await go(`/experiments/${seed.exp}/models/${seed.model_id}`);
  const regs = await page.locator('[data-testid=logged-model-versions]').innerText();
  assert.match(regs, /client-model v1[\s\S]*registered-in-ui v1[\s\S]*client-model v2/);
});

test('chart view: a panel per metric over 100 runs, bars for single values, remembered layout', async () => {
  const t = Date.now();
  await go(`/experiments/${chartExp}/charts`);
  await page.locator('[data-testid=chart-panel]').nth(9).waitFor();
  assert.equal(await page.locator('[data-testid=chart-panel]').count(), 10);
  await page.waitForFunction(() => {
    const lines = [...document.querySelectorAll('[data-testid=chart-panel] [data-testid=chart]')];
    const bars = [...document.querySelectorAll('[data-testid=bar-chart]')];
    return lines.length === 5 && lines.every((c) => Number(c.dataset.points) > 0) && bars.length === 5 && bars.every((b) => b.dataset.bars === '100');
  }, null, { timeout: 20000 });
  const ms = Date.now() - t;
  console.log(`chart view of 100 runs × 10 metrics drawn in ${ms} ms`);
  await shot('27-chart-view');
  // Every line panel got all 100 runs' points (down-sampled by the server).
  const pts = await page.locator('[data-testid=chart-panel] [data-testid=chart]').evaluateAll((l) => l.map((c) => Number(c.dataset.points)));
  assert.ok(pts.every((n) => n >= 100 * 50), pts.join(','));
  // Remove one, move one; the layout survives a reload.
  const keys = () => page.locator('[data-testid=chart-panel]').evaluateAll((l) => l.map((p) => p.dataset.key));
  const before = await keys();
  await page.locator(`[data-testid=chart-panel][data-key="${before[0]}"] [data-testid=panel-remove]`).click();
  await page.locator(`[data-testid=chart-panel][data-key="${before[2]}"] [data-testid=panel-left]`).click();
  const want = [before[2], before[1], ...before.slice(3)];
  assert.deepEqual(await keys(), want);
  await page.reload();
  await page.locator('[data-testid=chart-panel]').nth(8).waitFor();
  assert.deepEqual(await keys(), want);
  await page.selectOption('[data-testid=add-chart]', before[0]);
  await page.locator(`[data-testid=chart-panel][data-key="${before[0]}"]`).waitFor();
  assert.equal((await keys()).at(-1), before[0]);
  // A scatter panel of two single-value metrics: one point per run.
  await page.click('[data-testid=add-scatter]');
  const sc = page.locator('[data-testid=chart-panel][data-key^="scatter:"]');
  await sc.waitFor();
  await sc.locator('[data-testid=scatter-x-key]').selectOption('final_0');
  await sc.locator('[data-testid=scatter-y-key]').selectOption('final_1');
  await page.waitForFunction(() => document.querySelector('[data-testid=chart-panel][data-key^="scatter:"] [data-testid=scatter]')?.dataset.points === '100');
  await page.reload();
  await page.locator('[data-testid=chart-panel][data-key^="scatter:"] [data-testid=scatter]').waitFor();
  assert.equal(await page.locator('[data-testid=chart-panel][data-key^="scatter:"] [data-testid=scatter-x-key]').inputValue(), 'final_0');
  await page.click('[data-testid=reset-charts]');
});

test('chart view: line panels below the fold fetch their points only when scrolled to', async () => {
  await page.setViewportSize({ width: 700, height: 300 });
  try {
    // From a blank page, so no request of the previous page is counted.
    await page.goto('about:blank');
    const fetched = new Set();
    const seen = (req) => req.url().includes('get-history-bulk-interval') && fetched.add(new URL(req.url()).searchParams.get('metric_key'));
    page.on('request', seen);
    await go(`/experiments/${chartExp}/charts`);
    await page.locator('[data-testid=chart-panel] [data-testid=chart]').first().waitFor();
    // The first panel drawn may be a bar chart, which fetches nothing: wait for the first
    // line panel's fetch (it lags on a loaded machine), then for any others to start.
    for (let i = 0; i < 200 && fetched.size === 0; i++) await page.waitForTimeout(50);
    await page.waitForTimeout(300);
    // One panel a row at 700 px: only the first line charts are near a 300 px viewport.
    const pending = await page.locator('[data-testid=chart-pending]').count();
    assert.ok(fetched.size >= 1 && fetched.size < 5 && pending >= 1, `fetched ${[...fetched].join(',')}; ${pending} pending`);
    await page.locator('[data-testid=chart-panel][data-key=curve_4]').scrollIntoViewIfNeeded();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=chart-panel][data-key=curve_4] [data-testid=chart]')?.dataset.points) > 0);
    assert.ok(fetched.has('curve_4'));
    page.off('request', seen);
  } finally {
    await page.setViewportSize({ width: 1440, height: 900 });
  }
});

test('experiments list: active run counts per row (deleted runs not counted), tags and description', async () => {
  // The counts come in one request per page of experiments (mlox's run-counts route), not
  // a runs/search per row.
  const calls = [];
  const onReq = (r) => {
    const p = new URL(r.url()).pathname;
    if (p.startsWith('/ajax-api/')) calls.push(p);
  };
  page.on('request', onReq);
  await go('/');
  const row = (name) => page.locator('[data-testid=experiments] tr', { has: page.getByRole('link', { name, exact: true }) });
  const count = (name) => row(name).locator('[data-testid=exp-run-count]');
  // A row's count, once it has one (rows count lazily as they come into view).
  const countOf = async (name) => {
    for (let i = 0; i < 200; i++) {
      const v = await count(name).getAttribute('data-count');
      if (v) return v;
      await page.waitForTimeout(50);
    }
    return count(name).getAttribute('data-count');
  };
  // client-exp: the parent and its two children; its deleted run is not counted.
  assert.equal(await countOf('client-exp'), '3');
  assert.equal(await countOf('chart-exp'), '100');
  page.off('request', onReq);
  assert.deepEqual(calls.filter((p) => p.endsWith('/run-counts')), ['/ajax-api/2.0/mlox/experiments/run-counts']);
  assert.equal(calls.filter((p) => p.endsWith('/runs/search')).length, 0, calls.join(' '));
  assert.equal(await count('client-exp').getAttribute('title'), '3 active, 1 deleted');
  assert.match(await row('client-exp').innerText(), /team=vision/);
  assert.match(await row('client-exp').innerText(), /Experiment notes: compare with a > b && c < d/);
  // A new run shows up in the count on the next visit.
  const r = await api.post('runs/create', { experiment_id: seed.exp, start_time: Date.now() });
  await go('/');
  assert.equal(await countOf('client-exp'), '4');
  await shot('30-experiments-counts');
  await api.post('runs/delete', { run_id: r.run.info.run_id });
});

test('chart view: parallel coordinates of params and metrics over the runs, axes remembered', async () => {
  await go(`/experiments/${chartExp}/charts`);
  await page.locator('[data-testid=chart-panel]').nth(9).waitFor();
  await page.click('[data-testid=add-parallel]');
  const pc = page.locator('[data-testid=chart-panel][data-key^="parallel:"]');
  await pc.waitFor();
  const axes = () => pc.locator('[data-testid=parallel-axes] [data-axis]').evaluateAll((l) => l.map((e) => e.dataset.axis));
  // Defaults: the param that varies (width), then the first metrics.
  assert.deepEqual(await axes(), ['p:width', 'm:constant', 'm:curve_0', 'm:curve_1']);
  await page.waitForFunction(() => document.querySelector('[data-testid=chart-panel][data-key^="parallel:"] [data-testid=parallel]')?.dataset.lines === '100');
  await pc.locator('[data-axis="m:constant"] [data-testid=parallel-axis-remove]').click();
  await pc.locator('[data-testid=parallel-add-axis]').selectOption('m:final_0');
  assert.deepEqual(await axes(), ['p:width', 'm:curve_0', 'm:curve_1', 'm:final_0']);
  await pc.scrollIntoViewIfNeeded();
  await shot('31-chart-parallel');
  await page.reload();
  await page.locator('[data-testid=chart-panel][data-key^="parallel:"] [data-testid=parallel]').waitFor();
  assert.deepEqual(await axes(), ['p:width', 'm:curve_0', 'm:curve_1', 'm:final_0']);
  await page.waitForFunction(() => document.querySelector('[data-testid=chart-panel][data-key^="parallel:"] [data-testid=parallel]')?.dataset.lines === '100');
  await page.click('[data-testid=reset-charts]');
});

test('compare scatter: a constant value sits mid-frame with its own label, no ±1 padding', async () => {
  await go(`/compare?runs=${chartRuns.slice(0, 5).join(',')}&exps=${chartExp}`);
  await page.locator('[data-testid=compare-title]', { hasText: 'Comparing 5 runs' }).waitFor();
  await page.selectOption('[data-testid=scatter-x]', 'metrics:constant');
  await page.selectOption('[data-testid=scatter-y]', 'metrics:final_0');
  await page.waitForFunction(() => document.querySelector('[data-testid=scatter]')?.dataset.points === '5');
  const xt = await page.locator('[data-testid=scatter]').getAttribute('data-xticks');
  assert.equal(xt, '|0.5|', 'a constant axis shows its value, not 0.5 ± 1');
  // A single-value metric is a bar per run, not lone dots at x=0.
  await page.selectOption('[data-testid=compare-metric]', 'final_1');
  await page.waitForFunction(() => document.querySelector('[data-testid=bar-chart][data-metric=final_1]')?.dataset.bars === '5');
  assert.equal(await page.locator('[data-testid=chart][data-metric=final_1]').count(), 0);
  await shot('28-compare-constant');
});

test('under a path prefix (window.__MLOX_STATIC_PREFIX__) the app calls the API and links under it', async () => {
  // The server side of --static-prefix is another change; here the browser maps /p/… onto
  // the server and injects the prefix into index.html, as that server will.
  const seen = [];
  const under = (u) => u.pathname === '/p' || u.pathname.startsWith('/p/');
  await page.route(
    under,
    async (route) => {
      const u = new URL(route.request().url());
      seen.push(u.pathname);
      const resp = await route.fetch({ url: server.url + (u.pathname.slice(2) || '/') + u.search });
      const type = resp.headers()['content-type'] || '';
      if (!type.startsWith('text/html')) return route.fulfill({ response: resp });
      const html = (await resp.text()).replace('<head>', '<head><script>window.__MLOX_STATIC_PREFIX__="/p"</script>');
      return route.fulfill({ response: resp, body: html, headers: { ...resp.headers(), 'content-encoding': '' } });
    },
  );
  const direct = [];
  const onReq = (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/ajax-api/')) direct.push(u.pathname);
  };
  page.on('request', onReq);
  try {
    await page.goto(`${server.url}/p/#/experiments/${seed.exp}/runs/${seed.parent}`);
    await page.locator('[data-testid=run-title]', { hasText: 'parent-run' }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/p/experiments/${seed.exp}/runs/${seed.parent}`);
    const crumb = page.locator('.crumbs a', { hasText: 'client-exp' });
    assert.equal(await crumb.getAttribute('href'), `/p/experiments/${seed.exp}`);
    await crumb.click();
    await page.locator('[data-testid=runs-grid] .run-link', { hasText: 'parent-run' }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/p/experiments/${seed.exp}`);
    assert.ok(seen.some((p) => p.startsWith('/p/ajax-api/2.0/mlflow/runs/search')), seen.join(' '));
    assert.deepEqual(direct, [], 'no API call outside the prefix');
  } finally {
    page.off('request', onReq);
    await page.unroute(under);
  }
});
