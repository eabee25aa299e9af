/**
 * A tiny causal LanguageModel for probe tests (the real models live in src/models): one-hot
 * embedding, then per layer resid_post = resid_pre + tanh(causal_mean(resid_pre) @ M_l), so a
 * position's state carries information from every earlier token.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ActivationCache, BaseModelConfig, ForwardOptions, HookSpec, LanguageModel, ModelAnatomy } from '../../src/models/types';
import { Rng } from '../../src/engine/rng';
import { TensorCache } from '../../src/models/hooks';
import { GroundlabError } from '../../src/errors';

export class TinyModel implements LanguageModel {
  readonly arch = 'transformer' as const;
  readonly config: BaseModelConfig;
  readonly params = new Map<string, tf.Variable>();
  readonly nHeads = 1;
  /** Number of forward passes and the largest batch seen (to check streaming). */
  calls = 0;
  maxBatch = 0;

  constructor(vocabSize: number, dModel: number, nLayers: number, seed: number, contextLength = 32, mixScale = 1) {
    this.config = { arch: 'transformer', vocabSize, dModel, nLayers, contextLength, envFeatureDim: 0 };
    const rng = new Rng(seed);
    const v = (vals: Float32Array, shape: [number, number]) => tf.tidy(() => tf.variable(tf.tensor2d(vals, shape)));
    this.params.set('wte', v(rng.normalArray(vocabSize * dModel), [vocabSize, dModel]));
    for (let l = 0; l < nLayers; l++)
      this.params.set(`m${l}`, v(rng.normalArray(dModel * dModel, mixScale / Math.sqrt(dModel)), [dModel, dModel]));
    this.params.set('unembed', v(rng.normalArray(dModel * vocabSize, 0.1), [dModel, vocabSize]));
  }

  get anatomy(): ModelAnatomy {
    return {
      hookPoints: this.hookPoints(),
      layers: Array.from({ length: this.config.nLayers }, (_, l) => ({
        residPre: `blocks.${l}.hook_resid_pre`,
        residPost: `blocks.${l}.hook_resid_post`,
        mixing: { hook: `blocks.${l}.attn.hook_pattern`, kind: 'attention' as const, heads: 1 },
      })),
      lens: { input: 'blocks.0.hook_resid_pre', unembed: 'unembed' },
    };
  }

  hookPoints(): string[] {
    const out = ['hook_embed'];
    for (let l = 0; l < this.config.nLayers; l++) out.push(`blocks.${l}.hook_resid_pre`, `blocks.${l}.attn.hook_pattern`, `blocks.${l}.hook_resid_post`);
    return [...out, 'ln_final.hook_normalized'];
  }

  private run(tokens: tf.Tensor2D, hooks: HookSpec | undefined, record?: Map<string, tf.Tensor>, names?: Array<string | RegExp>): tf.Tensor3D {
    const [B, T] = tokens.shape;
    const { vocabSize: V, dModel: D } = this.config;
    this.calls++;
    this.maxBatch = Math.max(this.maxBatch, B);
    const at = (name: string, x: tf.Tensor): tf.Tensor => {
      let y = x;
      if (hooks) {
        const list = Array.isArray(hooks) ? hooks : Object.entries(hooks);
        for (const [k, fn] of list) if (k === name || (k instanceof RegExp && k.test(name))) y = fn(y, name) ?? y;
      }
      if (record && (!names || names.some((n) => (typeof n === 'string' ? n === name : n.test(name))))) record.set(name, tf.keep(tf.clone(y)));
      return y;
    };
    return tf.tidy(() => {
      const oh = tf.oneHot(tf.reshape(tokens, [B * T]), V); // [B*T, V]
      let h = at('hook_embed', tf.reshape(tf.matMul(tf.cast(oh, 'float32'), this.params.get('wte')!), [B, T, D])); // [B, T, D]
      const counts = tf.reshape(tf.range(1, T + 1, 1, 'float32'), [1, T, 1]);
      for (let l = 0; l < this.config.nLayers; l++) {
        h = at(`blocks.${l}.hook_resid_pre`, h);
        at(`blocks.${l}.attn.hook_pattern`, tf.zeros([B, 1, T, T]));
        const mean = tf.div(tf.cumsum(h, 1), counts); // [B, T, D]
        const mixed = tf.tanh(tf.matMul(tf.reshape(mean, [B * T, D]), this.params.get(`m${l}`)!)); // [B*T, D]
        h = at(`blocks.${l}.hook_resid_post`, tf.add(h, tf.reshape(mixed, [B, T, D])));
      }
      h = at('ln_final.hook_normalized', h);
      return tf.reshape(tf.matMul(tf.reshape(h, [B * T, D]), this.params.get('unembed')!), [B, T, V]) as tf.Tensor3D;
    });
  }

  forward(tokens: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    return this.run(tokens, opts.hooks);
  }

  runWithCache(tokens: tf.Tensor2D, opts: ForwardOptions & { names?: Array<string | RegExp> } = {}) {
    const rec = new Map<string, tf.Tensor>();
    const logits = this.run(tokens, opts.hooks, rec, opts.names);
    const cache: ActivationCache = new TensorCache([...rec], this.anatomy);
    return { logits, cache };
  }

  loss(tokens: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => {
      const logits = this.forward(tokens);
      const [B, T, V] = logits.shape;
      const lp = tf.logSoftmax(tf.reshape(logits, [B * T, V]));
      return tf.neg(tf.mean(tf.sum(tf.mul(lp, tf.oneHot(tf.reshape(targets, [B * T]), V)), 1))) as tf.Scalar;
    });
  }

  dispose(): void {
    this.params.forEach((v) => v.dispose());
  }
}
