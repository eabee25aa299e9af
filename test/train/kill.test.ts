/**
 * Kills at the worst moments: `kill -9` (SIGKILL, no cleanup runs) of a real `groundlab train` at
 * named fault points (src/io/faults.ts) -- mid-write of each file of a checkpoint and of the metrics
 * table, and right after a checkpoint folder is renamed into place -- then the same command resumes.
 * The resumed run must equal an uninterrupted one bit for bit (loss trace, metrics, every
 * checkpoint's weights and optimizer state) and leave no partial folder or temporary file.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as aq from 'arquero';
import { initEngine } from '../../src/engine';
import { readSafetensors } from '../../src/io/safetensors';
import { train, type TrainOptions } from '../../src/train/trainer';
import { listCheckpoints } from '../../src/train/run';
import { runChild } from './child';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-kill-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

// tiny preset, 12 steps: checkpoints at 0, 1, 2, 5, 10, 12; "#4" is the fourth arrival at a point,
// i.e. the checkpoint of step 5 (the metrics are written just before each checkpoint).
const STEPS = 12;
const opts = (out: string): TrainOptions => ({ out, arch: 'transformer', preset: 'tiny', seed: 0, steps: STEPS });
const argv = (out: string) => ['train', '--arch', 'transformer', '--preset', 'tiny', '--seed', '0', '--steps', String(STEPS), '--out', out, '--quiet'];
const POINTS = [
  'mid-write:model.safetensors#4',
  'mid-write:optimizer.safetensors#4',
  'mid-write:state.json#4',
  'mid-write:train.arrow#4',
  'mid-write:train.csv#4',
  'checkpoint-renamed#4',
];
const KEEP = ['step', 'loss', 'lr', 'grad_norm', 'tokens']; // elapsed_sec is wall time

/** Every file of a run folder, relative (sorted). */
function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

async function snapshot(dir: string) {
  const metrics = aq.fromArrow(fs.readFileSync(path.join(dir, 'metrics', 'train.arrow'))).select(KEEP).objects();
  const csv = aq.fromCSV(fs.readFileSync(path.join(dir, 'metrics', 'train.csv'), 'utf8')).select(KEEP).objects();
  const weights: Record<string, Record<string, number[]>> = {};
  for (const ck of listCheckpoints(dir)) {
    for (const f of ['model.safetensors', 'optimizer.safetensors']) {
      const c = await readSafetensors(path.join(ck.dir, f));
      weights[`${ck.step}/${f}`] = Object.fromEntries([...c.tensors].map(([k, t]) => [k, Array.from(t.data)]));
    }
  }
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'step-000012', 'state.json'), 'utf8'));
  return { metrics, csv, weights, files: files(dir), data: state.data, loss: state.loss };
}

test('kill -9 mid-write of each file and right after a checkpoint rename: the resumed run equals the uninterrupted one bit for bit', { timeout: 240_000 }, async () => {
  await initEngine({ log: false });
  const ref = await train(opts(path.join(root, 'ref')));
  assert.equal(ref.status, 'completed');
  const want = await snapshot(ref.dir);
  assert.equal(want.metrics.length, STEPS);
  for (const point of POINTS) {
    const out = path.join(root, point.replace(/[^a-z0-9]+/gi, '-'));
    const killed = await runChild(argv(out), { GROUNDLAB_KILL_AT: point, GROUNDLAB_QUIET: '1' });
    assert.equal(killed.signal, 'SIGKILL', `${point}: the child was killed at the point (${killed.code} ${killed.stderr})`);
    const steps = listCheckpoints(out).map((c) => c.step);
    assert.deepEqual(steps, point.startsWith('checkpoint-renamed') ? [0, 1, 2, 5] : [0, 1, 2], `${point}: complete checkpoints after the kill`);
    const r = await train(opts(out));
    assert.equal(r.status, 'completed', point);
    assert.equal(r.resumedFrom, steps[steps.length - 1], point);
    assert.deepEqual(r.losses, ref.losses, `${point}: loss trace`);
    const got = await snapshot(out);
    assert.deepEqual(got.metrics, want.metrics, `${point}: metrics/train.arrow`);
    assert.deepEqual(got.csv, want.csv, `${point}: metrics/train.csv`);
    assert.deepEqual(got.data, want.data, `${point}: data order`);
    assert.equal(got.loss, want.loss, point);
    assert.deepEqual(Object.keys(got.weights), Object.keys(want.weights), point);
    for (const k of Object.keys(want.weights)) assert.deepEqual(got.weights[k], want.weights[k], `${point}: ${k}`);
    assert.deepEqual(got.files, want.files, `${point}: no partial folder, temporary file or lock left`);
  }
});
