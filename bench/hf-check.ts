/**
 * `npx tsx bench/hf-check.ts <run> [--step N]`: export a Transformer run as a Hugging Face GPT-2
 * folder, load it in PyTorch transformers (bench/hf_check.py, bench-only virtualenv) and compare the
 * logits with groundlab's on a few rows of the run's data. Prints the largest absolute difference.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../src/engine';
import { openRun } from '../src/train/run';
import { exportHfGpt2 } from '../src/io/hf-gpt2';
import { repoRoot } from '../src/lab/runs';

async function main() {
  const [dir, ...rest] = process.argv.slice(2);
  if (!dir) throw new Error('usage: bench/hf-check.ts <run> [--step N]');
  const step = rest[0] === '--step' ? Number(rest[1]) : undefined;
  await initEngine();
  const run = await openRun(dir);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-'));
  await exportHfGpt2(run.dir, { step, out });
  const data = await run.data();
  const rows = [0, 1, 2].map((i) => Array.from(data.train.row(i).subarray(0, data.train.seqLen)));
  const model = await run.loadModel(step);
  const ours = model.forward(tf.tensor2d(rows, undefined, 'int32')).arraySync() as number[][][];
  const root = repoRoot();
  const py = path.join(root, '.venv-bench', 'bin', 'python');
  const r = spawnSync(py, [path.join(root, 'bench', 'hf_check.py'), out, JSON.stringify(rows)], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(r.stderr);
  const theirs = JSON.parse(r.stdout) as number[][][];
  let maxDiff = 0;
  let maxAbs = 0;
  ours.forEach((b, i) => b.forEach((t, j) => t.forEach((v, k) => {
    maxDiff = Math.max(maxDiff, Math.abs(v - theirs[i][j][k]));
    maxAbs = Math.max(maxAbs, Math.abs(v));
  })));
  console.log(JSON.stringify({ run: run.dir, step: step ?? run.checkpoints[run.checkpoints.length - 1].step, rows: rows.length, tokens: rows[0].length, vocab: ours[0][0].length, maxAbsLogit: maxAbs, maxAbsDiff: maxDiff }));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
