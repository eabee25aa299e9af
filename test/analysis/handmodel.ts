/**
 * Hand-built models for known-answer tests: a tiny attention-only Transformer that implements the
 * LanguageModel contract (hook points named as in src/models), whose weights tests set by hand,
 * and a word tokenizer over a fixed list.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LanguageModel, BaseModelConfig, ForwardOptions, HookSpec, ActivationCache, ModelAnatomy } from '../../src/models/types';
import type { Tokenizer } from '../../src/data/types';
import { TensorCache } from '../../src/models/hooks';

export interface HandConfig extends BaseModelConfig {
  nHeads: number;
  dHead: number;
  /** Apply a parameter-free layer norm before the unembedding (ln_final). */
  finalNorm: boolean;
}

function runHook(hooks: HookSpec | undefined, name: string, x: tf.Tensor): tf.Tensor {
  if (!hooks) return x;
  const entries: Array<[string | RegExp, (x: tf.Tensor, n: string) => tf.Tensor | void]> = Array.isArray(hooks) ? hooks : Object.entries(hooks);
  let y = x;
  for (const [k, fn] of entries) {
    const hit = typeof k === 'string' ? k === name : k.test(name);
    if (hit) {
      const r = fn(y, name);
      if (r) y = r;
    }
  }
  return y;
}

/** Weights: W_E [V, D], W_pos [T, D], blocks.l.W_Q|W_K|W_V [D, H*Dh], blocks.l.W_O [H*Dh, D], W_U [D, V]. */
export class HandTransformer implements LanguageModel<HandConfig> {
  readonly arch = 'transformer' as const;
  readonly params = new Map<string, tf.Variable>();
  readonly nHeads: number;
  constructor(readonly config: HandConfig) {
    const { vocabSize: V, dModel: D, contextLength: T, nLayers: L, nHeads: H, dHead: Dh } = config;
    this.nHeads = H;
    const z = (shape: number[]) => tf.variable(tf.zeros(shape));
    this.params.set('W_E', z([V, D]));
    this.params.set('W_pos', z([T, D]));
    for (let l = 0; l < L; l++) for (const w of ['W_Q', 'W_K', 'W_V']) this.params.set(`blocks.${l}.${w}`, z([D, H * Dh]));
    for (let l = 0; l < L; l++) this.params.set(`blocks.${l}.W_O`, z([H * Dh, D]));
    this.params.set('W_U', z([D, V]));
  }
  /** Set a parameter from nested arrays or a flat array. */
  set(name: string, values: number[] | number[][]): void {
    const v = this.params.get(name)!;
    v.assign(tf.tensor(values.flat() as number[], v.shape));
  }
  /** Per-head outputs at hook_z, patterns at hook_pattern; the parameter-free final norm is not a lens input (the lens reads it through the model). */
  get anatomy(): ModelAnatomy {
    const { nLayers: L, nHeads: H } = this.config;
    return {
      hookPoints: this.hookPoints(),
      layers: Array.from({ length: L }, (_, l) => ({
        residPre: `blocks.${l}.hook_resid_pre`,
        residPost: `blocks.${l}.hook_resid_post`,
        heads: { hook: `blocks.${l}.attn.hook_z`, axis: 2, size: H, unit: 'head' as const },
        mixing: { hook: `blocks.${l}.attn.hook_pattern`, kind: 'attention' as const, heads: H },
      })),
      lens: { input: 'blocks.0.hook_resid_pre', unembed: 'W_U' },
    };
  }
  hookPoints(): string[] {
    const names = ['hook_embed', 'hook_pos_embed'];
    for (let l = 0; l < this.config.nLayers; l++) {
      const a = `blocks.${l}.attn.`;
      names.push(`blocks.${l}.hook_resid_pre`, a + 'hook_q', a + 'hook_k', a + 'hook_v', a + 'hook_attn_scores', a + 'hook_pattern', a + 'hook_z', `blocks.${l}.hook_attn_out`, `blocks.${l}.hook_resid_mid`, `blocks.${l}.hook_resid_post`);
    }
    names.push('ln_final.hook_normalized');
    return names;
  }
  forward(tokens: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    return this.run(tokens, opts.hooks, undefined);
  }
  private run(tokens: tf.Tensor2D, hooks: HookSpec | undefined, record?: (name: string, x: tf.Tensor) => void): tf.Tensor3D {
    const { vocabSize: V, dModel: D, nLayers: L, nHeads: H, dHead: Dh } = this.config;
    const [B, T] = tokens.shape;
    const p = (n: string) => this.params.get(n)!;
    const h = (name: string, x: tf.Tensor) => {
      const y = runHook(hooks, name, x);
      record?.(name, y);
      return y;
    };
    const lin = (x: tf.Tensor, w: tf.Tensor, out: number) => tf.reshape(tf.matMul(tf.reshape(x, [-1, x.shape[x.shape.length - 1]]) as tf.Tensor2D, w as tf.Tensor2D), [B, T, out]);
    const oh = tf.cast(tf.oneHot(tf.cast(tokens, "int32"), V), "float32"); // [B, T, V]
    const embed = h('hook_embed', lin(oh, p('W_E'), D)); // [B, T, D]
    const pos = h('hook_pos_embed', tf.tile(tf.reshape(tf.slice(p('W_pos'), [0, 0], [T, D]), [1, T, D]), [B, 1, 1])); // [B, T, D]
    let resid = tf.add(embed, pos);
    const mask = tf.linalg.bandPart(tf.ones([T, T]), -1, 0); // [T, T] lower triangle
    const neg = tf.mul(tf.sub(1, mask), -1e9);
    for (let l = 0; l < L; l++) {
      resid = h(`blocks.${l}.hook_resid_pre`, resid);
      const a = `blocks.${l}.attn.`;
      const q = h(a + 'hook_q', tf.reshape(lin(resid, p(`blocks.${l}.W_Q`), H * Dh), [B, T, H, Dh]));
      const k = h(a + 'hook_k', tf.reshape(lin(resid, p(`blocks.${l}.W_K`), H * Dh), [B, T, H, Dh]));
      const v = h(a + 'hook_v', tf.reshape(lin(resid, p(`blocks.${l}.W_V`), H * Dh), [B, T, H, Dh]));
      const qh = tf.transpose(q, [0, 2, 1, 3]); // [B, H, T, Dh]
      const kh = tf.transpose(k, [0, 2, 1, 3]);
      const vh = tf.transpose(v, [0, 2, 1, 3]);
      const scores = h(a + 'hook_attn_scores', tf.add(tf.div(tf.matMul(qh, kh, false, true), Math.sqrt(Dh)), neg)); // [B, H, T, T]
      const pattern = h(a + 'hook_pattern', tf.softmax(scores)); // [B, H, T, T]
      const z = h(a + 'hook_z', tf.transpose(tf.matMul(pattern, vh), [0, 2, 1, 3])); // [B, T, H, Dh]
      const out = h(`blocks.${l}.hook_attn_out`, lin(tf.reshape(z, [B, T, H * Dh]), p(`blocks.${l}.W_O`), D)); // [B, T, D]
      resid = h(`blocks.${l}.hook_resid_mid`, tf.add(resid, out));
      resid = h(`blocks.${l}.hook_resid_post`, resid);
    }
    let x = resid;
    if (this.config.finalNorm) {
      const m = tf.mean(x, -1, true);
      const c = tf.sub(x, m);
      x = tf.div(c, tf.sqrt(tf.add(tf.mean(tf.square(c), -1, true), 1e-5)));
    }
    x = h('ln_final.hook_normalized', x);
    return lin(x, p('W_U'), V) as tf.Tensor3D;
  }
  runWithCache(tokens: tf.Tensor2D, opts: ForwardOptions & { names?: Array<string | RegExp> } = {}): { logits: tf.Tensor3D; cache: ActivationCache } {
    const store = new Map<string, tf.Tensor>();
    const want = (n: string) => !opts.names || opts.names.some((k) => (typeof k === 'string' ? k === n : k.test(n)));
    const logits = tf.tidy(() =>
      this.run(tokens, opts.hooks, (n, x) => {
        if (want(n)) store.set(n, tf.keep(x.clone()));
      }),
    );
    const cache: ActivationCache = new TensorCache([...store], this.anatomy);
    return { logits, cache };
  }
  loss(tokens: tf.Tensor2D, targets: tf.Tensor2D, mask?: tf.Tensor2D, opts: ForwardOptions = {}): tf.Scalar {
    return tf.tidy(() => {
      const logits = this.forward(tokens, opts);
      const lp = tf.logSoftmax(logits);
      const oh = tf.cast(tf.oneHot(tf.cast(targets, "int32"), this.config.vocabSize), "float32");
      const nll = tf.neg(tf.sum(tf.mul(lp, oh), -1)); // [B, T]
      const m = mask ?? tf.onesLike(nll);
      return tf.div(tf.sum(tf.mul(nll, m)), tf.sum(m)) as tf.Scalar;
    });
  }
  dispose(): void {
    this.params.forEach((v) => v.dispose());
  }
}

export class ListTokenizer implements Tokenizer {
  private ids = new Map<string, number>();
  constructor(readonly tokens: string[]) {
    tokens.forEach((t, i) => this.ids.set(t, i));
  }
  get vocabSize() {
    return this.tokens.length;
  }
  id(t: string): number {
    return this.ids.get(t) ?? this.ids.get('<unk>') ?? 0;
  }
  token(i: number): string {
    return this.tokens[i];
  }
  encode(ts: readonly string[]): number[] {
    return ts.map((t) => this.id(t));
  }
  decode(ids: ArrayLike<number>): string[] {
    return Array.from(ids, (i) => this.tokens[i]);
  }
  toJSON(): unknown {
    return { tokens: this.tokens };
  }
}

// ---------------------------------------------------------------------------------------------
// The copy-head model: layer 1, head 1 copies v<ENV> to every later position; it raises v<LAN>.
export const K = 3;
export const NOUNS = ['a', 'b', 'c'];
export const VOCAB = ['<pad>', 'f1', 'f2', 'f3', ...NOUNS.map((n) => n + '<ENV>'), ...NOUNS.map((n) => n + '<LAN>')];
export const V = VOCAB.length; // 10
export const BETA = 8; // query scale: score of the ENV key = BETA / sqrt(Dh) = 4
export const GAMMA = 5; // output scale
export const Dh = 4;
export const FRAMES = [
  { id: 'short', tokens: ['f1', '{ENV}', 'f2'] },
  { id: 'mid', tokens: ['f1', 'f2', '{ENV}', 'f3', 'f1'] },
  { id: 'long', tokens: ['f3', 'f1', 'f2', '{ENV}', 'f3', 'f1', 'f2'] },
];

/** dims: 0..2 ENV noun identity, 3 is-ENV, 4 constant, 5..7 copied noun, 8 junk. */
export function copyModel(gamma = GAMMA): HandTransformer {
  const D = 2 * K + 3;
  const m = new HandTransformer({ arch: 'transformer', vocabSize: V, contextLength: 16, dModel: D, nLayers: 2, nHeads: 2, dHead: Dh, envFeatureDim: 0, finalNorm: false });
  const WE = VOCAB.map((t, i) => {
    const r = new Array(D).fill(0);
    r[4] = 1;
    if (t.endsWith('<ENV>')) {
      r[NOUNS.indexOf(t[0])] = 1;
      r[3] = 1;
    }
    return r;
  });
  m.set('W_E', WE);
  const mat = (rows: number, cols: number) => Array.from({ length: rows }, () => new Array(cols).fill(0));
  for (let l = 0; l < 2; l++) {
    const WQ = mat(D, 2 * Dh), WK = mat(D, 2 * Dh), WV = mat(D, 2 * Dh), WO = mat(2 * Dh, D);
    for (let h = 0; h < 2; h++) {
      if (l === 1 && h === 1) {
        WQ[4][h * Dh] = BETA; // q = BETA on every position
        WK[3][h * Dh] = 1; // k = is-ENV
        for (let k = 0; k < K; k++) {
          WV[k][h * Dh + 1 + k] = 1; // v = ENV noun identity
          WO[h * Dh + 1 + k][5 + k] = gamma; // -> copied-noun dims
        }
      } else {
        // control heads: uniform attention, write the constant into the junk dimension
        WV[4][h * Dh] = 1;
        WO[h * Dh][8] = 1;
      }
    }
    m.set(`blocks.${l}.W_Q`, WQ);
    m.set(`blocks.${l}.W_K`, WK);
    m.set(`blocks.${l}.W_V`, WV);
    m.set(`blocks.${l}.W_O`, WO);
  }
  const WU = mat(D, V);
  for (let k = 0; k < K; k++) WU[5 + k][VOCAB.indexOf(NOUNS[k] + '<LAN>')] = 1;
  m.set('W_U', WU);
  return m;
}

