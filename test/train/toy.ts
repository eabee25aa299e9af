/**
 * A toy language model (embedding -> tanh -> linear readout, i.e. a bigram model) and a patterned
 * token dataset, used to test the trainer independently of src/models and src/data.
 * Not a test file itself (no .test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/engine/rng';
import type { ActivationCache, BaseModelConfig, ForwardOptions, LanguageModel } from '../../src/models/types';
import type { CorpusSpec, TokenDataset, Tokenizer } from '../../src/data/types';
import type { AnyModelConfig, TrainDeps, TrainingData } from '../../src/train/deps';

export interface ToyConfig extends BaseModelConfig {
  /** Make loss() return NaN from this call on (tests of divergence handling). */
  nanAtCall?: number;
}

let uid = 0;

export class ToyBigram implements LanguageModel<ToyConfig> {
  readonly arch = 'transformer' as const;
  readonly params = new Map<string, tf.Variable>();
  readonly nHeads = 0;
  readonly anatomy = { hookPoints: ['hook_embed'], layers: [], lens: { input: 'hook_embed', unembed: 'wte.weight' } };
  private calls = 0;
  constructor(
    readonly config: ToyConfig,
    seed: number,
  ) {
    const rng = new Rng(seed);
    const { vocabSize: V, dModel: D } = config;
    const id = uid++;
    this.params.set('wte.weight', tf.tidy(() => tf.variable(tf.tensor2d(rng.normalArray(V * D, 0.5), [V, D]), true, `toy${id}.wte`)));
    this.params.set('head.weight', tf.tidy(() => tf.variable(tf.tensor2d(rng.normalArray(D * V, 0.5), [D, V]), true, `toy${id}.head`)));
    this.params.set('head.bias', tf.tidy(() => tf.variable(tf.zeros([V]), true, `toy${id}.bias`)));
  }
  hookPoints() {
    return ['hook_embed'];
  }
  forward(tokens: tf.Tensor2D, _opts?: ForwardOptions): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = tokens.shape;
      const V = this.config.vocabSize;
      const oh = tf.cast(tf.oneHot(tf.reshape(tokens, [B * T]), V), 'float32'); // [B*T, V]
      const h = tf.tanh(tf.matMul(oh, this.params.get('wte.weight')!)); // [B*T, D]
      const logits = tf.add(tf.matMul(h, this.params.get('head.weight')!), this.params.get('head.bias')!); // [B*T, V]
      return tf.reshape(logits, [B, T, V]) as tf.Tensor3D;
    });
  }
  runWithCache(tokens: tf.Tensor2D): { logits: tf.Tensor3D; cache: ActivationCache } {
    throw new Error(`toy model has no cache (${tokens.shape})`);
  }
  loss(tokens: tf.Tensor2D, targets: tf.Tensor2D, mask?: tf.Tensor2D): tf.Scalar {
    this.calls++;
    const nan = this.config.nanAtCall !== undefined && this.calls >= this.config.nanAtCall;
    return tf.tidy(() => {
      const V = this.config.vocabSize;
      const logits = this.forward(tokens); // [B, T, V]
      const lp = tf.logSoftmax(logits); // [B, T, V]
      const nll = tf.neg(tf.sum(tf.mul(lp, tf.cast(tf.oneHot(targets, V), 'float32')), -1)); // [B, T]
      const m = mask ?? tf.onesLike(nll);
      let l = tf.div(tf.sum(tf.mul(nll, m)), tf.sum(m)) as tf.Scalar;
      if (nan) l = tf.mul(l, NaN) as tf.Scalar;
      return l;
    });
  }
  dispose() {
    for (const v of this.params.values()) v.dispose();
  }
}

export class ToyTokenizer implements Tokenizer {
  constructor(readonly vocabSize: number) {}
  id(t: string) {
    const n = Number(t.slice(1));
    return Number.isInteger(n) && n < this.vocabSize ? n : 0;
  }
  token(i: number) {
    return `t${i}`;
  }
  encode(ts: readonly string[]) {
    return ts.map((t) => this.id(t));
  }
  decode(ids: ArrayLike<number>) {
    return Array.from(ids, (i) => this.token(i));
  }
  toJSON() {
    return { kind: 'toy', vocabSize: this.vocabSize };
  }
  static fromJSON(j: unknown) {
    const o = j as { kind?: string; vocabSize?: number };
    if (o?.kind !== 'toy' || !Number.isInteger(o.vocabSize)) throw new Error('not a toy tokenizer');
    return new ToyTokenizer(o.vocabSize!);
  }
}

/** Rows following t_{i+1} = (3 t_i + 1) mod V, with 10% random tokens: learnable, not trivial. */
export function toyDataset(V: number, seqLen: number, n: number, seed: number): TokenDataset {
  const rng = new Rng(`toy-data/${seed}`);
  const rows: Int32Array[] = [];
  for (let r = 0; r < n; r++) {
    const row = new Int32Array(seqLen + 1);
    row[0] = rng.int(V);
    for (let i = 1; i <= seqLen; i++) row[i] = rng.next() < 0.1 ? rng.int(V) : (3 * row[i - 1] + 1) % V;
    rows.push(row);
  }
  return { size: n, seqLen, featureDim: 0, row: (i) => rows[i] };
}

export const TOY_V = 13;

/** Trainer dependencies that use the toy model and data. */
export function toyDeps(): Partial<TrainDeps> {
  return {
    createModel: (config: AnyModelConfig, seed: number) => new ToyBigram(config as ToyConfig, seed),
    modelPreset: (arch, _preset, vocabSize, overrides) => ({ arch, vocabSize, contextLength: 64, dModel: 8, nLayers: 1, envFeatureDim: 0, nanAtCall: undefined, ...(overrides ?? {}) }),
    prepareData: async (spec: CorpusSpec, opts: { seqLen: number }): Promise<TrainingData> => ({
      spec,
      tokenizer: new ToyTokenizer(TOY_V),
      train: toyDataset(TOY_V, opts.seqLen, 40, spec.seed ?? 0),
    }),
    tokenizerFromJSON: (j: unknown) => ToyTokenizer.fromJSON(j),
  };
}
