// Browser tests of the basic-auth app in the UI (`mlox server --app-name basic-auth`):
// the browser's Basic login (credentials given to the browser context, as a user types
// them into the prompt), the signed-in user in the top bar, the administrators' users
// page and the permissions panel of experiments and registered models. Every change made
// in the browser is checked through the REST API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { REPO, CHROMIUM, startServer } from './lib.mjs';

const SHOTS = join(REPO, '.test-cache', 'ui-screenshots');
const ADMIN = ['admin', 'admin-password-1234'];
const PW = 'user-password-1234';
let server;
const contexts = [];

function basic([u, p]) {
  return 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
}

/** A REST call as `creds`; resolves to {status, json}. */
async function as(creds, method, path, body, query) {
  const url = new URL(server.url + path);
  for (const [k, v] of Object.entries(query || {})) url.searchParams.append(k, v);
  const headers = creds ? { Authorization: basic(creds) } : {};
  if (body) headers['Content-Type'] = 'application/json';
  const r = await fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, headers: r.headers, json: await r.json().catch(() => ({})) };
}

const permissionOf = async (user, type, id) =>
  (await as(ADMIN, 'GET', '/api/3.0/mlflow/users/permissions/get', null, { username: user, resource_type: type, resource_id: id })).json.permission;

async function browserAs(creds) {
  const profile = mkdtempSync(join(tmpdir(), 'mlox-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    httpCredentials: creds ? { username: creds[0], password: creds[1] } : undefined,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  contexts.push(ctx);
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.setDefaultTimeout(10000);
  page.on('pageerror', (e) => console.error('page error:', e.message));
  page.on('dialog', (d) => d.accept());
  return page;
}

/** The status a navigation ends with; chromium's refusal to retry bad credentials is 401. */
async function statusOf(page, url) {
  try {
    return (await page.goto(url)).status();
  } catch (e) {
    if (/ERR_INVALID_AUTH_CREDENTIALS/.test(e.message)) return 401;
    throw e;
  }
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'mlox-ui-auth-'));
  const ini = join(dir, 'basic_auth.ini');
  writeFileSync(ini, `[mlflow]\ndefault_permission = READ\nadmin_username = ${ADMIN[0]}\n`);
  process.env.MLFLOW_AUTH_CONFIG_PATH = ini;
  process.env.MLFLOW_AUTH_ADMIN_PASSWORD = ADMIN[1];
  server = await startServer(['--app-name', 'basic-auth']);
  for (const u of ['alice', 'bob', 'temp']) {
    const r = await as(ADMIN, 'POST', '/api/2.0/mlflow/users/create', { username: u, password: PW });
    assert.equal(r.status, 200, JSON.stringify(r.json));
  }
});

after(async () => {
  for (const c of contexts) await c.close();
  await server?.stop();
});

test('login: no credentials get the Basic challenge; the signed-in user is shown', async () => {
  // The server's answer without credentials: the challenge that makes a browser prompt.
  const raw = await fetch(server.url + '/');
  assert.equal(raw.status, 401);
  assert.match(raw.headers.get('www-authenticate'), /^Basic/);
  // Headless chromium has nobody to type into the prompt: the navigation fails (or shows
  // the 401 page) and no app is rendered.
  const anon = await browserAs(null);
  assert.equal(await statusOf(anon, server.url + '/'), 401);
  assert.equal(await anon.locator('[data-testid=current-user]').count(), 0);

  const admin = await browserAs(ADMIN);
  assert.equal((await admin.goto(server.url + '/')).status(), 200);
  await admin.locator('[data-testid=current-user]').getByText('admin (admin)').waitFor();
  assert.ok(await admin.locator('[data-testid=admin-link]').isVisible());

  const alice = await browserAs(['alice', PW]);
  await alice.goto(server.url + '/');
  await alice.locator('[data-testid=current-user]').getByText('alice').waitFor();
  assert.equal(await alice.locator('[data-testid=admin-link]').count(), 0);
  // A wrong password is refused like none.
  const wrong = await browserAs(['alice', 'not-the-password']);
  assert.equal(await statusOf(wrong, server.url + '/'), 401);
});

test('users page: administrators create, re-password, promote, demote and delete users', async () => {
  const page = await browserAs(ADMIN);
  await page.goto(server.url + '/admin/users');
  await page.locator('[data-testid=users-table]').waitFor();
  await page.screenshot({ path: join(SHOTS, 'auth-01-users.png') });
  // Create.
  await page.fill('[data-testid=new-username]', 'dave');
  await page.fill('[data-testid=new-password]', PW);
  await page.click('[data-testid=create-user] button[type=submit]');
  await page.locator('[data-testid=user-dave]').waitFor();
  assert.equal((await as(['dave', PW], 'GET', '/api/2.0/mlflow/users/current')).json.user.username, 'dave');
  // Change a password.
  const row = page.locator('[data-testid=user-dave]');
  await row.locator('[data-testid=change-password]').fill('a-new-password-567');
  await row.locator('[data-testid=save-password]').click();
  await page.locator('[data-testid=admin-notice]').getByText('Changed the password of dave').waitFor();
  assert.equal((await as(['dave', PW], 'GET', '/api/2.0/mlflow/users/current')).status, 401);
  assert.equal((await as(['dave', 'a-new-password-567'], 'GET', '/api/2.0/mlflow/users/current')).status, 200);
  // Promote, then demote.
  await row.locator('[data-testid=toggle-admin]').click();
  await row.getByText('demote').waitFor();
  assert.equal((await as(ADMIN, 'GET', '/api/2.0/mlflow/users/get', null, { username: 'dave' })).json.user.is_admin, true);
  await row.locator('[data-testid=toggle-admin]').click();
  await row.getByText('make admin').waitFor();
  assert.equal((await as(ADMIN, 'GET', '/api/2.0/mlflow/users/get', null, { username: 'dave' })).json.user.is_admin, false);
  // Delete.
  await page.locator('[data-testid=user-temp] [data-testid=delete-user]').click();
  await page.locator('[data-testid=user-temp]').waitFor({ state: 'detached' });
  assert.equal((await as(ADMIN, 'GET', '/api/2.0/mlflow/users/get', null, { username: 'temp' })).status, 404);
  // A bad password is MLflow's error, shown.
  await page.fill('[data-testid=new-username]', 'eve');
  await page.fill('[data-testid=new-password]', 'short');
  await page.click('[data-testid=create-user] button[type=submit]');
  await page.locator('[data-testid=admin-error]').waitFor();
  assert.equal((await as(ADMIN, 'GET', '/api/2.0/mlflow/users/get', null, { username: 'eve' })).status, 404);
});

test('users page refuses non-administrators', async () => {
  const page = await browserAs(['bob', PW]);
  await page.goto(server.url + '/admin/users');
  await page.locator('[data-testid=admin-denied]').waitFor();
  assert.equal(await page.locator('[data-testid=users-table]').count(), 0);
});

test('permissions panel: the owner grants, changes and revokes; DENY shows an error page, not a blank one', async () => {
  const created = await as(['alice', PW], 'POST', '/api/2.0/mlflow/experiments/create', { name: 'alice-exp' });
  assert.equal(created.status, 200);
  const expId = created.json.experiment_id;
  const alice = await browserAs(['alice', PW]);
  await alice.goto(server.url + `/experiments/${expId}`);
  const panel = alice.locator('[data-testid=permissions-panel]');
  await panel.waitFor();
  await panel.locator('summary').click();
  await panel.locator('[data-testid=perm-bob] [data-testid=perm-value]').getByText('READ').waitFor();
  // Grant EDIT.
  await panel.locator('[data-testid=grant-user]').selectOption('bob');
  await panel.locator('[data-testid=grant-permission]').selectOption('EDIT');
  await panel.locator('[data-testid=grant-submit]').click();
  await panel.locator('[data-testid=perm-bob] [data-testid=perm-value]').getByText('EDIT').waitFor();
  assert.equal(await permissionOf('bob', 'experiment', expId), 'EDIT');
  assert.equal((await as(['bob', PW], 'POST', '/api/2.0/mlflow/runs/create', { experiment_id: expId })).status, 200);
  await alice.screenshot({ path: join(SHOTS, 'auth-02-permissions.png') });
  // Change to DENY (replaces the grant).
  await panel.locator('[data-testid=grant-user]').selectOption('bob');
  await panel.locator('[data-testid=grant-permission]').selectOption('DENY');
  await panel.locator('[data-testid=grant-submit]').click();
  await panel.locator('[data-testid=perm-bob] [data-testid=perm-value]').getByText('DENY').waitFor();
  assert.equal(await permissionOf('bob', 'experiment', expId), 'DENY');
  // Bob sees MLflow's error instead of the experiment, and no panel.
  const bob = await browserAs(['bob', PW]);
  await bob.goto(server.url + `/experiments/${expId}`);
  await bob.getByText('PERMISSION_DENIED').first().waitFor();
  assert.equal(await bob.locator('[data-testid=permissions-panel]').count(), 0);
  assert.equal(await bob.getByText('alice-exp').count(), 0);
  await bob.screenshot({ path: join(SHOTS, 'auth-03-denied.png') });
  // Bob's experiment list leaves it out, and mlox's run counts refuse it as MLflow's
  // experiment routes do (READ on every experiment named; no login, no answer).
  await bob.goto(server.url + '/');
  await bob.locator('[data-testid=current-user]').waitFor();
  await bob.waitForLoadState('networkidle');
  assert.equal(await bob.getByText('alice-exp').count(), 0);
  const counts = (creds, ids) => as(creds, 'POST', '/ajax-api/2.0/mlox/experiments/run-counts', { experiment_ids: ids });
  assert.equal((await counts(['bob', PW], [expId])).status, 403);
  assert.equal((await counts(['bob', PW], ['0', expId])).status, 403);
  assert.equal((await counts(null, ['0'])).status, 401);
  assert.equal((await as(['bob', PW], 'DELETE', '/ajax-api/2.0/mlox/experiments/run-counts')).status, 403, 'an unknown mlox route is refused');
  assert.deepEqual((await counts(['alice', PW], [expId])).json, { run_counts: [{ experiment_id: expId, active: 1, total: 1 }] });
  // Revoke: back to the default (READ).
  await panel.locator('[data-testid=perm-bob] [data-testid=revoke]').click();
  await panel.locator('[data-testid=perm-bob] [data-testid=perm-value]').getByText('READ').waitFor();
  assert.equal(await permissionOf('bob', 'experiment', expId), 'READ');
  // With READ, Bob counts its runs, in the list as through the API.
  assert.equal((await counts(['bob', PW], [expId])).status, 200);
  await bob.goto(server.url + '/');
  const bobRow = bob.locator('[data-testid=experiments] tr', { has: bob.getByRole('link', { name: 'alice-exp', exact: true }) });
  await bobRow.locator('[data-testid=exp-run-count][data-count="1"]').waitFor();
  // With READ only, Bob gets no panel (he cannot manage it).
  await bob.goto(server.url + `/experiments/${expId}`);
  await bob.locator('[data-testid=experiment-title]').getByText('alice-exp').waitFor();
  await bob.waitForLoadState('networkidle');
  assert.equal(await bob.locator('[data-testid=permissions-panel]').count(), 0);
});

test('permissions panel on a registered model', async () => {
  assert.equal((await as(['alice', PW], 'POST', '/api/2.0/mlflow/registered-models/create', { name: 'alice-model' })).status, 200);
  const alice = await browserAs(['alice', PW]);
  await alice.goto(server.url + '/models/alice-model');
  const panel = alice.locator('[data-testid=permissions-panel]');
  await panel.waitFor();
  await panel.locator('summary').click();
  await panel.locator('[data-testid=grant-user]').selectOption('bob');
  await panel.locator('[data-testid=grant-permission]').selectOption('MANAGE');
  await panel.locator('[data-testid=grant-submit]').click();
  await panel.locator('[data-testid=perm-bob] [data-testid=perm-value]').getByText('MANAGE').waitFor();
  assert.equal(await permissionOf('bob', 'registered_model', 'alice-model'), 'MANAGE');
  // Now Bob manages it too, and sees the panel.
  const bob = await browserAs(['bob', PW]);
  await bob.goto(server.url + '/models/alice-model');
  await bob.locator('[data-testid=permissions-panel]').waitFor();
});
