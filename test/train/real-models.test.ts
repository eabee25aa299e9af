/** The trainer with the real architectures and the real synthetic corpus (tiny preset, few steps). */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { train } from '../../src/train/trainer';
import { openRun } from '../../src/train/run';
import type { Arch } from '../../src/models/types';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-real-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

for (const arch of ['transformer', 'mamba2', 'lstm'] as Arch[]) {
  test(`${arch}: interrupted + resumed == uninterrupted (bit-exact); tensor counts stay flat; the run loads back`, async () => {
    await initEngine({ log: false });
    const opts = { arch, preset: 'tiny' as const, seed: 7, steps: 6, batchSize: 2 };
    const counts: number[] = [];
    const full = await train({ ...opts, out: path.join(root, `${arch}-full`), onProgress: (e) => e.loss !== undefined && !e.done && counts.push(tf.memory().numTensors) });
    assert.equal(counts.length, 6);
    assert.ok(counts.every((c) => c === counts[0]), `tensor counts ${counts.join(' ')}`);
    const ctrl = new AbortController();
    const out = path.join(root, `${arch}-part`);
    const part = await train({ ...opts, out, signal: ctrl.signal, onProgress: (e) => e.step === 3 && !e.done && ctrl.abort() });
    assert.equal(part.status, 'aborted');
    const rest = await train({ ...opts, out });
    assert.equal(rest.resumedFrom, 3);
    assert.deepEqual(rest.losses, full.losses);
    assert.ok(full.losses.every(Number.isFinite));
    const a = await (await openRun(full.dir)).loadModel();
    const b = await (await openRun(out)).loadModel();
    for (const [k, v] of a.params) assert.deepEqual(await b.params.get(k)!.data(), await v.data(), k);
    a.dispose();
    b.dispose();
  });
}
