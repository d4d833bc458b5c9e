// The data the browser tests look at, seeded through the REST API only.
import { client, pool } from './lib.mjs';

// A 1x1 red PNG.
export const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');

export async function seed(base) {
  const c = client(base);
  const t0 = Date.UTC(2026, 10, 1, 9, 0, 0);
  const exp = await c.createExperiment('ui-test-exp');
  const other = await c.createExperiment('ui-other-exp');
  await c.createExperiment('ui-empty-exp');
  const runs = [];
  // 24 finished runs with a clear order: acc_i = i / 24, lr alternates.
  for (let i = 0; i < 24; i++) {
    const run = await c.createRun(exp, `run-${String(i).padStart(2, '0')}`, t0 + i * 60000, [
      { key: 'mlflow.source.name', value: 'train.py' },
      { key: 'mlflow.source.git.commit', value: 'abcdef0123456789abcdef0123456789abcdef01' },
      { key: 'team', value: i % 2 ? 'vision' : 'nlp' },
    ]);
    const id = run.info.run_id;
    const metrics = [];
    for (let s = 0; s < 100; s++) metrics.push({ key: 'loss', value: Math.exp(-s / (20 + i)) + 0.01 * ((s * 7) % 5), timestamp: t0 + i * 60000 + s * 1000, step: s });
    metrics.push({ key: 'acc', value: i / 24, timestamp: t0 + i * 60000 + 100000, step: 99 });
    await c.logBatch(id, {
      metrics,
      params: [
        { key: 'lr', value: i % 2 ? '0.01' : '0.001' },
        { key: 'batch_size', value: String(16 * (1 + (i % 4))) },
        { key: 'optimizer', value: i % 3 ? 'adam' : 'sgd' },
      ],
    });
    await c.finish(id, t0 + i * 60000 + 120000);
    runs.push(run);
  }
  const main = runs[23];
  const mainId = main.info.run_id;
  await c.post('runs/set-tag', { run_id: mainId, key: 'mlflow.note.content', value: '# Best run\n\nTrained with **adam**.' });
  // Children of the best run.
  for (let k = 0; k < 2; k++) await c.createRun(exp, `child-${k}`, t0 + 3600000, [{ key: 'mlflow.parentRunId', value: mainId }]);
  // Dataset input.
  await c.post('runs/log-inputs', {
    run_id: mainId,
    datasets: [{ dataset: { name: 'mnist-train', digest: 'd1g3st', source_type: 'local', source: '{"uri": "/data/mnist"}' }, tags: [{ key: 'mlflow.data.context', value: 'training' }] }],
  });
  // Artifacts of the best run.
  await c.upload(main, 'notes.txt', Buffer.from('hello from the notes file\nsecond line\n'));
  await c.upload(main, 'metrics.json', Buffer.from('{"accuracy": 0.97, "classes": ["cat", "dog"]}'));
  await c.upload(main, 'data/table.csv', Buffer.from('name,score\nalpha,1\n"be,ta",2\ngamma,3\n'));
  await c.upload(main, 'config.yaml', Buffer.from('model:\n  depth: 12\n  width: 256\n'));
  await c.upload(main, 'model/MLmodel', Buffer.from("artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n  sklearn:\n    sklearn_version: 1.5.0\nmlflow_version: 3.17.2\nmodel_uuid: 0123abcd\nutc_time_created: '2026-11-01 09:00:00'\n"));
  await c.upload(main, 'plot.png', PNG, 'image/png');
  // A run in another experiment, and a running run for the live test.
  await c.createRun(other, 'other-run', t0);
  const live = await c.createRun(exp, 'live-run', Date.now());
  await c.logBatch(live.info.run_id, { metrics: [{ key: 'live_metric', value: 1, timestamp: Date.now(), step: 0 }] });
  // Registry: a model with two versions from the best run.
  await c.post('registered-models/create', { name: 'ui-model', description: 'A **test** model', tags: [{ key: 'owner', value: 'ml-team' }] });
  for (let v = 0; v < 2; v++) await c.post('model-versions/create', { name: 'ui-model', source: `runs:/${mainId}/model`, run_id: mainId });
  await c.post('registered-models/alias', { name: 'ui-model', alias: 'champion', version: '2' });
  await c.post('model-versions/transition-stage', { name: 'ui-model', version: '1', stage: 'Production', archive_existing_versions: false });
  await c.post('registered-models/create', { name: 'ui-other-model' });
  return { exp, other, runs, mainId, liveId: live.info.run_id };
}

/** An experiment with many runs and columns, for the virtualization test. */
export async function seedWide(base, nRuns, nParams) {
  const c = client(base);
  const exp = await c.createExperiment('ui-wide-exp');
  const ids = Array.from({ length: nRuns }, (_, i) => i);
  await pool(ids, 8, async (i) => {
    const run = await c.createRun(exp, `wide-${i}`, 1700000000000 + i);
    const params = Array.from({ length: nParams }, (_, p) => ({ key: `p${String(p).padStart(3, '0')}`, value: String((i * 31 + p) % 97) }));
    for (let k = 0; k < params.length; k += 100) await c.logBatch(run.info.run_id, { params: params.slice(k, k + 100), metrics: k ? [] : [{ key: 'score', value: i, timestamp: 1700000000000, step: 0 }] });
  });
  return exp;
}
