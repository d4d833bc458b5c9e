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
