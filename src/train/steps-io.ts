/**
 * What the trainer writes and reads in a run directory: the loss trace (metrics/train.arrow and
 * .csv), checkpoints (complete or absent), the cleanup of what a killed trainer left, the removal
 * of a fresh run that never completed a step, and the one-trainer-per-run lock.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as aq from 'arquero';
import * as flechette from '@uwdata/flechette';
import type * as tf from '@tensorflow/tfjs-core';
import { GroundlabError, fromSystemError } from '../errors';
import { atomicWrite, atomicWriteJSON, mkdirp, removeStaleTemps } from '../io/atomic';
import { faultPoint } from '../io/faults';
import { acquireLock, removeStaleLockTemps, type Lock } from '../io/lock';
import { saveTensors, writeSafetensors } from '../io/safetensors';
import type { LanguageModel } from '../models/types';
import type { AdamW } from './optimizer';
import { checkpointDirName, type CheckpointInfo, type CheckpointState } from './run';

/** One row of metrics/train.arrow. */
export interface TrainMetricsRow {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens: number;
  elapsed_sec: number;
}

const METRIC_COLUMNS = ['step', 'loss', 'lr', 'grad_norm', 'tokens', 'elapsed_sec'] as const;
/** Column types given explicitly, so that an empty table (no step done yet) is written too. */
const METRIC_TYPES = {
  step: flechette.int32(),
  loss: flechette.float64(),
  lr: flechette.float64(),
  grad_norm: flechette.float64(),
  tokens: flechette.float64(),
  elapsed_sec: flechette.float64(),
};

function metricsTable(rows: TrainMetricsRow[]) {
  return aq.table({
    step: Int32Array.from(rows, (r) => r.step),
    loss: Float64Array.from(rows, (r) => r.loss),
    lr: Float64Array.from(rows, (r) => r.lr),
    grad_norm: Float64Array.from(rows, (r) => r.grad_norm),
    tokens: Float64Array.from(rows, (r) => r.tokens),
    elapsed_sec: Float64Array.from(rows, (r) => r.elapsed_sec),
  });
}

export async function writeMetrics(dir: string, rows: TrainMetricsRow[]): Promise<void> {
  const t = metricsTable(rows);
  await atomicWrite(path.join(dir, 'metrics', 'train.arrow'), aq.toArrowIPC(t, { types: METRIC_TYPES }));
  await atomicWrite(path.join(dir, 'metrics', 'train.csv'), aq.toCSV(t) + '\n');
}

/**
 * The loss trace of steps 1..upTo, from metrics/train.arrow or, when that file is missing, damaged
 * or short, from metrics/train.csv (the same rows). Rows after `upTo` (written before a checkpoint
 * that never completed) are dropped. If neither file holds every row, resuming is refused: starting
 * the trace at the checkpoint would silently lose the earlier rows and overwrite the CSV.
 */
export async function readMetrics(dir: string, upTo: number): Promise<TrainMetricsRow[]> {
  if (upTo === 0) return [];
  const arrow = path.join(dir, 'metrics', 'train.arrow');
  const csv = path.join(dir, 'metrics', 'train.csv');
  const problems: string[] = [];
  const readers: Array<[string, (b: Buffer) => aq.ColumnTable]> = [
    [arrow, (b) => aq.fromArrow(b)],
    [csv, (b) => aq.fromCSV(b.toString('utf8'))],
  ];
  for (const [file, parse] of readers) {
    let rows: Array<Record<string, unknown>>;
    try {
      rows = parse(fs.readFileSync(file)).objects() as Array<Record<string, unknown>>;
    } catch (e) {
      const code = (e as { code?: string }).code;
      problems.push(
        `${path.basename(file)} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${(e as Error).message.split('\n')[0]})`}`,
      );
      continue;
    }
    const kept: TrainMetricsRow[] = [];
    let ok = true;
    for (const r of rows) {
      if (typeof r.step !== 'number' || r.step > upTo) continue;
      if (r.step !== kept.length + 1 || !METRIC_COLUMNS.every((c) => typeof r[c] === 'number')) {
        ok = false;
        break;
      }
      kept.push(Object.fromEntries(METRIC_COLUMNS.map((c) => [c, r[c]])) as unknown as TrainMetricsRow);
    }
    if (ok && kept.length === upTo) return kept;
    problems.push(`${path.basename(file)} does not hold the rows of steps 1..${upTo} (it has ${kept.length} in order)`);
  }
  throw new GroundlabError('BAD_FILE', `cannot resume from step ${upTo}: the loss trace up to that step is lost (${problems.join('; ')})`, {
    file: arrow,
    hint: 'restore metrics/train.arrow or metrics/train.csv (from a backup or a copy of the run); the checkpoints are intact, and resuming without the trace would lose its earlier rows',
  });
}

/**
 * Fill `checkpoints/.step-N.partial-PID/` and rename it to `checkpoints/step-N/`: a listed
 * checkpoint is always complete. The metrics of steps 1..N are written before (see `checkpoint` in ./steps.ts), so a
 * kill right after the rename loses nothing. A failed attempt (disk full) removes its partial folder;
 * one left by a killed process is removed when the run starts again (`removePartials`).
 */
export async function saveCheckpoint(dir: string, model: LanguageModel, opt: AdamW, state: CheckpointState): Promise<CheckpointInfo> {
  const root = path.join(dir, 'checkpoints');
  const name = checkpointDirName(state.step);
  const final = path.join(root, name);
  const tmp = path.join(root, `.${name}.partial-${process.pid}`);
  try {
    fs.rmSync(tmp, { recursive: true, force: true });
    mkdirp(tmp);
    await saveTensors(path.join(tmp, 'model.safetensors'), model.params as Map<string, tf.Tensor>, {
      format: 'pt',
      groundlab_step: String(state.step),
    });
    await writeSafetensors(path.join(tmp, 'optimizer.safetensors'), await opt.stateTensors(), { optimizer: 'adamw' });
    await atomicWriteJSON(path.join(tmp, 'state.json'), state);
    fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(tmp, final);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw fromSystemError(e, {
      file: final,
      doing: `save the checkpoint of step ${state.step}`,
      hint: 'its partial folder was removed and the earlier checkpoints are intact: run the same command again to resume from the last one',
    });
  }
  faultPoint('checkpoint-renamed');
  return { step: state.step, dir: final };
}

/**
 * Remove what a killed trainer of this run left half-done: partial checkpoint folders and the
 * temporary files of atomic writes in the folders only the trainer writes. Call under the run lock.
 */
export function removePartials(dir: string): string[] {
  const removed: string[] = [];
  const root = path.join(dir, 'checkpoints');
  let names: string[] = [];
  try {
    names = fs.readdirSync(root);
  } catch {
    // no checkpoints yet
  }
  for (const n of names) {
    if (/^\.step-\d+\.partial-\d+$/.test(n)) {
      fs.rmSync(path.join(root, n), { recursive: true, force: true });
      removed.push(path.join('checkpoints', n));
    }
  }
  for (const n of removeStaleTemps(dir, { all: true, only: /^\.(config|tokenizer)\.json\.tmp-/ })) removed.push(n);
  for (const n of removeStaleTemps(path.join(dir, 'metrics'), { all: true })) removed.push(path.join('metrics', n));
  return removed;
}

/**
 * Remove what this session wrote of a fresh run that never completed a step (config, tokenizer,
 * checkpoint 0, metrics), and the folder itself when this session created it. Returns whether it did.
 */
export function removeFreshRun(dir: string, removeFolder: boolean): boolean {
  try {
    if (removeFolder) fs.rmSync(dir, { recursive: true, force: true });
    else
      for (const n of ['config.json', 'tokenizer.json', 'checkpoints', 'metrics'])
        fs.rmSync(path.join(dir, n), { recursive: true, force: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * One training process per run directory: `<run>/.train.lock` names the trainer (see ../io/lock.ts:
 * taking a free or stale lock is atomic, a live holder gives a BUSY error).
 */
export function acquireRunLock(dir: string): Lock {
  removeStaleLockTemps(path.join(dir, '.train.lock'));
  return acquireLock(path.join(dir, '.train.lock'), {
    what: `run ${dir}`,
    busyMessage: (h) => `run ${dir} is being trained by process ${h.pid} on ${h.host}`,
    busyHint:
      'wait for it to finish, or stop it (Ctrl-C or kill PID: it saves a checkpoint); if that process is gone, delete the lock file',
  });
}
