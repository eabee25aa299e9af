import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanCI, studentTCdf, studentTQuantile } from '../../src/sweep';

test('Student t quantiles match tables', () => {
  // Two-sided 95% critical values from standard t tables.
  const table: Array<[number, number]> = [[1, 12.706], [2, 4.303], [4, 2.776], [9, 2.262], [30, 2.042], [120, 1.98]];
  for (const [df, t] of table) assert.ok(Math.abs(studentTQuantile(0.975, df) - t) < 1e-3, `df ${df}`);
  assert.ok(Math.abs(studentTCdf(0, 5) - 0.5) < 1e-12);
  assert.ok(Math.abs(studentTCdf(studentTQuantile(0.9, 7), 7) - 0.9) < 1e-9);
  assert.ok(Math.abs(studentTQuantile(0.025, 3) + studentTQuantile(0.975, 3)) < 1e-9);
});

test('meanCI: mean, sample sd, t interval; n < 2 has no interval', () => {
  const r = meanCI([1, 2, 3, 4]);
  assert.equal(r.n, 4);
  assert.equal(r.mean, 2.5);
  assert.ok(Math.abs(r.sd - Math.sqrt(5 / 3)) < 1e-12);
  const half = 3.182446305284263 * (Math.sqrt(5 / 3) / 2);
  assert.ok(Math.abs(r.lo - (2.5 - half)) < 1e-6 && Math.abs(r.hi - (2.5 + half)) < 1e-6);
  const one = meanCI([7, NaN]);
  assert.equal(one.n, 1);
  assert.equal(one.mean, 7);
  assert.ok(Number.isNaN(one.lo) && Number.isNaN(one.sd));
  assert.ok(Number.isNaN(meanCI([]).mean));
});
