/**
 * The data side of a training step: the seeded, resumable order of dataset rows (`DataOrder`) and
 * the batch tensors of a step (`makeBatch`). Used by the step loop of ./steps.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { Rng, type RngState } from '../engine/rng';
import type { TokenDataset } from '../data/types';

/** Seeded epoch-wise shuffling of dataset rows whose state (epoch, position, RNG) is saved. */
export class DataOrder {
  epoch = 0;
  pos = 0;
  epochRng: RngState;
  private rng: Rng;
  private perm: Int32Array;

  constructor(
    readonly size: number,
    start: { epoch: number; pos: number; epochRng: RngState },
  ) {
    if (size < 1)
      throw new GroundlabError('BAD_CONFIG', 'the training dataset is empty', { hint: 'use a larger corpus or a shorter seqLen' });
    this.epoch = start.epoch;
    this.pos = start.pos;
    this.epochRng = start.epochRng;
    this.rng = new Rng(start.epochRng);
    this.perm = this.shuffle();
  }

  static fresh(size: number, seed: number): DataOrder {
    return new DataOrder(size, { epoch: 0, pos: 0, epochRng: new Rng(`${seed}/data-order`).state() });
  }

  private shuffle(): Int32Array {
    const idx = Array.from({ length: this.size }, (_, i) => i);
    return Int32Array.from(this.rng.shuffle(idx));
  }

  /** Next row index. */
  next(): number {
    if (this.pos >= this.size) {
      this.epoch++;
      this.pos = 0;
      this.epochRng = this.rng.state();
      this.perm = this.shuffle();
    }
    return this.perm[this.pos++];
  }

  state(): { epoch: number; pos: number; epochRng: RngState } {
    return { epoch: this.epoch, pos: this.pos, epochRng: [...this.epochRng] as RngState };
  }
}

/** Datasets may mark target positions that count in the loss (e.g. 0 for padding). */
export type MaskedDataset = TokenDataset & { mask?(i: number): ArrayLike<number> };

/** A batch of rows: inputs [B, T], targets [B, T], optional mask [B, T] and features [B, T, F]. */
export function makeBatch(ds: MaskedDataset, rows: number[]) {
  const T = ds.seqLen;
  const B = rows.length;
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  let mask: Float32Array | undefined;
  let feats: Float32Array | undefined;
  const F = ds.featureDim;
  if (ds.mask) mask = new Float32Array(B * T);
  if (F > 0 && ds.features) feats = new Float32Array(B * T * F);
  rows.forEach((r, b) => {
    const row = ds.row(r);
    if (row.length !== T + 1)
      throw new GroundlabError('INTERNAL', `dataset row ${r} has ${row.length} ids, expected seqLen + 1 = ${T + 1}`);
    x.set(row.subarray(0, T), b * T);
    y.set(row.subarray(1, T + 1), b * T);
    if (mask) mask.set(ds.mask!(r), b * T);
    if (feats) feats.set(ds.features!(r), b * T * F);
  });
  return {
    x: tf.tensor2d(x, [B, T], 'int32'), // [B, T]
    y: tf.tensor2d(y, [B, T], 'int32'), // [B, T]
    mask: mask ? tf.tensor2d(mask, [B, T], 'float32') : undefined, // [B, T]
    feats: feats ? tf.tensor3d(feats, [B, T, F], 'float32') : undefined, // [B, T, F]
  };
}
