import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seedStats } from '../../src/sweep';

test('seedStats: mean, sample sd, t interval over finite values; n < 2 has no interval', () => {
  const r = seedStats([1, 2, 3, 4]);
  assert.equal(r.n, 4);
  assert.equal(r.mean, 2.5);
  assert.ok(Math.abs(r.sd - Math.sqrt(5 / 3)) < 1e-12);
  const half = 3.182446305284263 * (Math.sqrt(5 / 3) / 2);
  assert.ok(Math.abs(r.lo - (2.5 - half)) < 1e-6 && Math.abs(r.hi - (2.5 + half)) < 1e-6);
  const one = seedStats([7, NaN]);
  assert.equal(one.n, 1);
  assert.equal(one.mean, 7);
  assert.ok(Number.isNaN(one.lo) && Number.isNaN(one.sd));
  assert.ok(Number.isNaN(seedStats([]).mean));
});
