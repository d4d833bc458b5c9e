// Unit tests of the UI's pure functions (no browser needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorSpan, smooth, groupByRun, buildData, parseCsv } from '../src/logic.js';

test('errorSpan: the position mlox names, counted in characters', () => {
  assert.deepEqual(errorSpan("params.x = 'a' AND (", 'Invalid filter string ... (at position 19: expected a comparison)'), [19, 20]);
  // Positions count Unicode scalar values, not UTF-16 units.
  const q = "tags.t = '😀' AND";
  const span = errorSpan(q, '(at position 13: x)');
  assert.equal(Array.from(q).slice(span[0], span[1]).join(''), 'A');
  // At the very end (missing operand): still a mark to show.
  assert.deepEqual(errorSpan('metrics.a >', '(at position 11: x)'), [11, 12]);
});

test("errorSpan: a quoted token from MLflow's message, else nothing", () => {
  const q = 'metrics.acc > 0.5 AND params.lr === 1';
  const [a, b] = errorSpan(q, "Invalid comparator '===' not one of '{'='}'");
  assert.equal(q.slice(a, b), '===');
  assert.equal(errorSpan('x', 'something else'), null);
});

test('smooth: bias-corrected EMA, NaN passes through, weight 0 is identity', () => {
  assert.deepEqual(smooth([1, 2, 3], 0), [1, 2, 3]);
  const s = smooth([10, 10, 10], 0.9);
  s.forEach((v) => assert.ok(Math.abs(v - 10) < 1e-9));
  const t = smooth([0, null, 1], 0.5);
  assert.equal(t[0], 0);
  assert.equal(t[1], null);
  assert.ok(Math.abs(t[2] - 0.5 / 0.75) < 1e-9);
});

test('buildData: runs aligned on the union of x values, log scale drops non-positive', () => {
  const pts = [
    { run_id: 'a', step: 0, timestamp: 1000, value: 1 },
    { run_id: 'a', step: 2, timestamp: 3000, value: 3 },
    { run_id: 'b', step: 1, timestamp: 2500, value: -2 },
    { run_id: 'b', step: 2, timestamp: 3500, value: 4 },
  ];
  const by = groupByRun(pts);
  const runs = [{ id: 'a' }, { id: 'b' }];
  const { data, count } = buildData(runs, by, 'step', 0, false, {});
  assert.equal(count, 4);
  assert.deepEqual(data, [
    [0, 1, 2],
    [1, null, 3],
    [null, -2, 4],
  ]);
  const log = buildData(runs, by, 'step', 0, true, {}).data;
  assert.deepEqual(log[2], [null, null, 4]);
  const rel = buildData(runs, by, 'relative', 0, false, { a: 1000, b: 2500 }).data;
  assert.deepEqual(rel[0], [0, 1, 2]);
  assert.deepEqual(rel[1], [1, null, 3]);
  assert.deepEqual(rel[2], [-2, 4, null]);
  // Smoothing adds a smoothed series after each raw one.
  assert.equal(buildData(runs, by, 'step', 0.5, false, {}).data.length, 5);
});

test('parseCsv: quotes, doubled quotes, CRLF, row limit', () => {
  assert.deepEqual(parseCsv('a,b\r\n"x,y","he said ""hi"""\n1,2'), [
    ['a', 'b'],
    ['x,y', 'he said "hi"'],
    ['1', '2'],
  ]);
  assert.equal(parseCsv('a\n'.repeat(50), ',', 10).length, 10);
  assert.deepEqual(parseCsv('a\tb\n1\t2\n', '\t'), [
    ['a', 'b'],
    ['1', '2'],
  ]);
});

import { parseSignature, modelVersionsOf, loggedModelIdOf } from '../src/logic.js';
import { matchRoute, listParam } from '../src/routes.js';
import { safeMarkdown, safeUrl } from '../src/markdown.js';

test('parseSignature: folded quoted JSON as PyYAML writes it; none without a signature', () => {
  const text = [
    'artifact_path: x',
    'signature:',
    `  inputs: '[{"type": "double", "name": "sepal_length_long_name_for_folding", "required":`,
    `    true}, {"type": "string", "name": "it''s", "required": true}]'`,
    `  outputs: '[{"type": "long", "required": true}]'`,
    '  params: null',
    'utc_time_created: x',
  ].join('\n');
  const sig = parseSignature(text);
  assert.deepEqual(sig.inputs.map((c) => c.name), ['sepal_length_long_name_for_folding', "it's"]);
  assert.equal(sig.outputs[0].type, 'long');
  assert.equal(sig.params, undefined);
  assert.equal(parseSignature('flavors:\n  sklearn: {}\n'), null);
});

test('modelVersionsOf and loggedModelIdOf', () => {
  assert.deepEqual(modelVersionsOf([{ key: 'mlflow.modelVersions', value: '[{"name": "a", "version": 2}, {"name": "a", "version": "2"}, {"name": "b", "version": "1"}]' }]), [{ name: 'a', version: '2' }, { name: 'b', version: '1' }]);
  assert.deepEqual(modelVersionsOf([{ key: 'mlflow.modelVersions', value: 'not json' }]), []);
  assert.equal(loggedModelIdOf('models:/m-0123abcd'), 'm-0123abcd');
  assert.equal(loggedModelIdOf('runs:/abc/model'), null);
  assert.equal(loggedModelIdOf('models:/name/1'), null);
});

test("matchRoute: MLflow's routes and mlox's own", () => {
  assert.deepEqual(matchRoute('/'), { page: 'experiments' });
  assert.deepEqual(matchRoute('/experiments/1'), { page: 'runs', expIds: ['1'] });
  assert.deepEqual(matchRoute('/experiments/1/runs'), { page: 'runs', expIds: ['1'] });
  assert.deepEqual(matchRoute('/experiments/1,2'), { page: 'runs', expIds: ['1', '2'] });
  assert.deepEqual(matchRoute('/experiments/1/runs/abc'), { page: 'run', runId: 'abc', tab: 'overview', sub: '' });
  assert.deepEqual(matchRoute('/experiments/1/runs/abc/model-metrics'), { page: 'run', runId: 'abc', tab: 'metrics', sub: '' });
  assert.deepEqual(matchRoute('/experiments/1/runs/abc/system-metrics'), { page: 'run', runId: 'abc', tab: 'system', sub: '' });
  assert.deepEqual(matchRoute('/experiments/1/runs/abc/artifacts/model/MLmodel'), { page: 'run', runId: 'abc', tab: 'artifacts', sub: 'model/MLmodel' });
  assert.deepEqual(matchRoute('/experiments/1/runs/abc/artifactPath/a%20b/c'), { page: 'run', runId: 'abc', tab: 'artifacts', sub: 'a b/c' });
  assert.deepEqual(matchRoute('/runs/abc/artifacts/x/y.txt'), { page: 'run', runId: 'abc', tab: 'artifacts', sub: 'x/y.txt' });
  assert.deepEqual(matchRoute('/experiments/1/models'), { page: 'logged-models', expId: '1' });
  assert.equal(matchRoute('/experiments/1/models/m-1').modelId, 'm-1');
  assert.equal(matchRoute('/experiments/1/traces').page, 'traces');
  assert.equal(matchRoute('/experiments/1/charts').page, 'charts');
  assert.equal(matchRoute('/compare-runs').page, 'compare');
  assert.deepEqual(matchRoute('/metric/a%2Fb'), { page: 'compare', metric: 'a/b' });
  assert.deepEqual(matchRoute('/models/a%20b/versions/3'), { page: 'model-version', name: 'a b', version: '3' });
  assert.deepEqual(matchRoute('/models/a%20b'), { page: 'model', name: 'a b' });
  assert.equal(matchRoute('/admin/users').page, 'admin-users');
  assert.equal(matchRoute('/nope').page, '');
});

test('listParam: MLflow JSON arrays and comma lists', () => {
  assert.deepEqual(listParam('["a","b"]'), ['a', 'b']);
  assert.deepEqual(listParam('a,b'), ['a', 'b']);
  assert.deepEqual(listParam(null), []);
});

test('safeMarkdown: code escaped once, raw HTML as text, unsafe links dropped', () => {
  assert.equal(safeMarkdown('`a > b && c`').trim(), '<p><code>a &gt; b &amp;&amp; c</code></p>');
  assert.match(safeMarkdown('```\n<b>x</b> & y\n```'), /<pre><code>&lt;b&gt;x&lt;\/b&gt; &amp; y\n<\/code><\/pre>/);
  assert.doesNotMatch(safeMarkdown('<img src=x onerror=alert(1)> <script>x</script>'), /<img|<script/);
  assert.match(safeMarkdown('[a](javascript:alert(1))'), /href="#"/);
  assert.match(safeMarkdown('[a](JaVaScript:alert(1))'), /href="#"/);
  assert.equal(safeUrl('java\tscript:x'), false);
  assert.match(safeMarkdown('[a](https://x.y/?a=1&b=2)'), /href="https:\/\/x\.y\/\?a=1&amp;b=2"/);
  assert.equal(safeUrl('data:text/html,x'), false);
  assert.equal(safeUrl('/relative'), true);
});

import { parseImageName, groupImages } from '../src/logic.js';

test('log_image file names: parsed, grouped by key, thumbnails paired', () => {
  const u = '0b3c2a8e-1f2d-4c5e-9a7b-112233445566';
  assert.deepEqual(parseImageName(`images/samples~rgb+step+2+timestamp+1700000000000+${u}.png`), { key: 'samples/rgb', step: 2, timestamp: 1700000000000, id: u, compressed: false, path: `images/samples~rgb+step+2+timestamp+1700000000000+${u}.png` });
  assert.equal(parseImageName(`images/a%step%1%timestamp%5%${u}%compressed.webp`).compressed, true);
  assert.equal(parseImageName('images/plain.png'), null);
  const g = groupImages([
    { path: `images/k+step+3+timestamp+9+${u}.png` },
    { path: `images/k+step+3+timestamp+9+${u}+compressed.webp` },
    { path: 'images/k+step+1+timestamp+8+aaaa-bb.png' },
  ]);
  assert.deepEqual(g.get('k').map((e) => [e.step, !!e.thumb]), [[1, false], [3, true]]);
});
