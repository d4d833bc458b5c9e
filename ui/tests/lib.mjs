// Shared by the browser tests (ui/tests) and the benchmark (bench/ui): start the real
// mlox binary on an ephemeral port, talk to its REST API, drive Debian's chromium.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function mloxBin() {
  if (process.env.MLOX_BIN) return resolve(process.env.MLOX_BIN);
  const target = process.env.CARGO_TARGET_DIR ? resolve(REPO, process.env.CARGO_TARGET_DIR) : join(REPO, 'target');
  return join(target, 'release', 'mlox');
}

/** Starts `mlox server --port 0` on a temp SQLite store; resolves to {url, dir, stop}. */
export function startServer(extraArgs = []) {
  const bin = mloxBin();
  if (!existsSync(bin)) throw new Error(`mlox binary not found at ${bin} (set MLOX_BIN or build with cargo build --release -p mlox-cli)`);
  const dir = mkdtempSync(join(tmpdir(), 'mlox-ui-'));
  mkdirSync(join(dir, 'artifacts'));
  const child = spawn(
    bin,
    ['server', '--host', '127.0.0.1', '--port', '0', '--backend-store-uri', `sqlite:///${join(dir, 'mlox.db')}`, '--artifacts-destination', join(dir, 'artifacts'), ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolveUrl, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('mlox did not print its address within 20 s:\n' + out)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /(http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolveUrl({
          url: m[1].replace(/\/$/, ''),
          dir,
          stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM')))),
        });
      }
    });
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => reject(new Error(`mlox exited (${code}) before listening:\n${out}`)));
  });
}

export function client(base) {
  async function call(method, path, body, query) {
    const url = new URL(base + '/api/2.0/mlflow/' + path);
    for (const [k, v] of Object.entries(query || {})) url.searchParams.append(k, v);
    const init = { method, headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined };
    let r;
    try {
      r = await fetch(url, init);
    } catch (e) {
      // A pooled keep-alive connection the server closed while we were busy (uvicorn
      // drops idle ones after 5 s): the request never left, so send it once more.
      r = await fetch(url, init);
    }
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
    return j;
  }
  const post = (p, b) => call('POST', p, b);
  const c = {
    call,
    post,
    get: (p, q) => call('GET', p, undefined, q),
    createExperiment: async (name) => (await post('experiments/create', { name })).experiment_id,
    createRun: async (experiment_id, run_name, start_time = Date.now(), tags = []) =>
      (await post('runs/create', { experiment_id, run_name, start_time, tags })).run,
    logBatch: (run_id, { metrics = [], params = [], tags = [] }) => post('runs/log-batch', { run_id, metrics, params, tags }),
    finish: (run_id, end_time = Date.now(), status = 'FINISHED') => post('runs/update', { run_id, status, end_time }),
    /** Uploads one artifact file through the proxied artifact API. */
    async upload(run, path, bytes, contentType = 'application/octet-stream') {
      const uri = run.info.artifact_uri.replace(/^mlflow-artifacts:(\/\/[^/]+)?/, '').replace(/^\/+/, '');
      const r = await fetch(`${base}/api/2.0/mlflow-artifacts/artifacts/${uri}/${path}`, { method: 'PUT', body: bytes, headers: { 'Content-Type': contentType } });
      if (!r.ok) throw new Error(`upload ${path}: ${r.status} ${await r.text()}`);
    },
  };
  return c;
}

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool(items, n, fn) {
  let i = 0;
  const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) {
      const k = i++;
      await fn(items[k], k);
    }
  });
  await Promise.all(workers);
}

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'mlox-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return context;
}

/** Counts non-background pixels of a canvas (proof that something was drawn). */
export async function inkedPixels(locator) {
  return locator.evaluate((c) => {
    const g = c.getContext('2d');
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && !(d[i] > 245 && d[i + 1] > 245 && d[i + 2] > 245)) n++;
    return n;
  });
}

/** Counts canvas pixels close to an [r, g, b] colour (a series' stroke). */
export async function colorPixels(locator, rgb, tol = 40) {
  return locator.evaluate(
    (c, [r, g, b, t]) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200 && Math.abs(d[i] - r) < t && Math.abs(d[i + 1] - g) < t && Math.abs(d[i + 2] - b) < t) n++;
      return n;
    },
    [...rgb, tol],
  );
}
