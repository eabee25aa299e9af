/**
 * GPT-2-style Transformer: learned positions, pre-LN blocks, multi-head causal attention, GELU MLP,
 * final LayerNorm, tied or untied unembedding. Parameter names are Hugging Face GPT-2 names with
 * Conv1D layout ([in, out]), so a checkpoint maps one-to-one onto a GPT-2 folder.
 *
 * Attention runs fused (one op with a hand-written gradient) unless a hook or the cache wants that
 * layer's scores or pattern: then the pattern is an explicit tensor in the gradient graph, so a
 * hook may replace it with a differentiable function of itself (saliency).
 */
import * as tf from '@tensorflow/tfjs-core';
import { attentionScores, splitLast } from '../engine/ops';
import { BaseLM, envSpecs, type ParamSpec, type Pass } from './base';
import type { TransformerConfig } from './config';
import type { ForwardOptions } from './types';

export function transformerParamSpecs(c: TransformerConfig): ParamSpec[] {
  const d = c.dModel;
  const std = c.initStd;
  const projStd = std / Math.sqrt(2 * c.nLayers);
  const zeros = { kind: 'const', value: 0 } as const;
  const ones = { kind: 'const', value: 1 } as const;
  const specs: ParamSpec[] = [
    { name: 'transformer.wte.weight', shape: [c.vocabSize, d], init: { kind: 'normal', std } },
    { name: 'transformer.wpe.weight', shape: [c.contextLength, d], init: { kind: 'normal', std: std / 2 } },
  ];
  for (let l = 0; l < c.nLayers; l++) {
    const h = `transformer.h.${l}`;
    specs.push(
      { name: `${h}.ln_1.weight`, shape: [d], init: ones },
      { name: `${h}.ln_1.bias`, shape: [d], init: zeros },
      { name: `${h}.attn.c_attn.weight`, shape: [d, 3 * d], init: { kind: 'normal', std } },
      { name: `${h}.attn.c_attn.bias`, shape: [3 * d], init: zeros },
      { name: `${h}.attn.c_proj.weight`, shape: [d, d], init: { kind: 'normal', std: projStd } },
      { name: `${h}.attn.c_proj.bias`, shape: [d], init: zeros },
      { name: `${h}.ln_2.weight`, shape: [d], init: ones },
      { name: `${h}.ln_2.bias`, shape: [d], init: zeros },
      { name: `${h}.mlp.c_fc.weight`, shape: [d, c.dMlp], init: { kind: 'normal', std } },
      { name: `${h}.mlp.c_fc.bias`, shape: [c.dMlp], init: zeros },
      { name: `${h}.mlp.c_proj.weight`, shape: [c.dMlp, d], init: { kind: 'normal', std: projStd } },
      { name: `${h}.mlp.c_proj.bias`, shape: [d], init: zeros },
    );
  }
  specs.push({ name: 'transformer.ln_f.weight', shape: [d], init: ones }, { name: 'transformer.ln_f.bias', shape: [d], init: zeros });
  if (!c.tiedEmbeddings) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, d], init: { kind: 'normal', std } });
  specs.push(...envSpecs(c, std));
  return specs;
}

export class Transformer extends BaseLM<TransformerConfig> {
  readonly arch = 'transformer' as const;
  readonly nHeads: number;

  constructor(config: TransformerConfig, seed: number) {
    super(config, transformerParamSpecs(config), seed);
    this.nHeads = config.nHeads;
  }

  protected computeHookPoints(): string[] {
    const names = ['hook_embed', 'hook_pos_embed'];
    for (let l = 0; l < this.config.nLayers; l++) {
      const b = `blocks.${l}`;
      names.push(
        `${b}.hook_resid_pre`,
        `${b}.ln1.hook_normalized`,
        `${b}.attn.hook_q`,
        `${b}.attn.hook_k`,
        `${b}.attn.hook_v`,
        `${b}.attn.hook_attn_scores`,
        `${b}.attn.hook_pattern`,
        `${b}.attn.hook_z`,
        `${b}.hook_attn_out`,
        `${b}.hook_resid_mid`,
        `${b}.ln2.hook_normalized`,
        `${b}.mlp.hook_pre`,
        `${b}.mlp.hook_post`,
        `${b}.hook_mlp_out`,
        `${b}.hook_resid_post`,
      );
    }
    names.push('ln_final.hook_normalized');
    return names;
  }

  protected unembedding(): tf.Tensor2D {
    return this.tiedOrHead('transformer.wte.weight');
  }

  protected body(tokens: tf.Tensor2D, pass: Pass, opts: ForwardOptions): tf.Tensor2D {
    const c = this.config;
    const { b, t, ops, hooks } = pass;
    const d = c.dModel;
    const nh = c.nHeads;
    const dh = d / nh;
    const n = b * t;

    const tok = this.embedTokens(tokens, this.p('transformer.wte.weight'), pass); // [N, D]
    const pos = tf.slice(this.p('transformer.wpe.weight'), [0, 0], [t, d]); // [T, D]
    let x: tf.Tensor2D;
    if (hooks.wants('hook_pos_embed')) {
      const pos3 = hooks.at('hook_pos_embed', tf.broadcastTo(tf.reshape(pos, [1, t, d]), [b, t, d])); // [B, T, D]
      x = tf.add(tok, tf.reshape(pos3, [n, d]));
    } else {
      x = tf.reshape(tf.add(tf.reshape(tok, [b, t, d]), pos), [n, d]); // [N, D]
    }
    const env = this.envEmbedding(opts.envFeatures, pass);
    if (env) x = tf.add(x, env);

    // [N, D] -> [B*H, T, Dh] and back
    const toHeads = (y: tf.Tensor): tf.Tensor3D => tf.reshape(tf.transpose(tf.reshape(y, [b, t, nh, dh]), [0, 2, 1, 3]), [b * nh, t, dh]);

    for (let l = 0; l < c.nLayers; l++) {
      const blk = `blocks.${l}`;
      const h = `transformer.h.${l}`;
      x = this.hook2(pass, `${blk}.hook_resid_pre`, x, d);
      const ln1 = this.hook2(pass, `${blk}.ln1.hook_normalized`, ops.layerNorm(x, this.p(`${h}.ln_1.weight`), this.p(`${h}.ln_1.bias`), c.lnEps), d);
      const qkv = ops.linear(ln1, this.p(`${h}.attn.c_attn.weight`), this.p(`${h}.attn.c_attn.bias`)); // [N, 3D]
      let [q, k, v] = splitLast(qkv, [d, d, d]) as tf.Tensor[]; // each [N, D]
      const qkvHook = (name: string, y: tf.Tensor) => (hooks.wants(name) ? hooks.at(name, tf.reshape(y, [b, t, nh, dh])) : y); // [B, T, H, Dh]
      q = qkvHook(`${blk}.attn.hook_q`, q);
      k = qkvHook(`${blk}.attn.hook_k`, k);
      v = qkvHook(`${blk}.attn.hook_v`, v);
      const qh = toHeads(q), kh = toHeads(k), vh = toHeads(v); // [B*H, T, Dh]
      let zh: tf.Tensor3D; // [B*H, T, Dh]
      const scoresName = `${blk}.attn.hook_attn_scores`;
      const patternName = `${blk}.attn.hook_pattern`;
      if (hooks.wants(scoresName) || hooks.wants(patternName)) {
        // Explicit path: the pattern is a tensor in the gradient graph.
        const s = hooks.at(scoresName, tf.reshape(attentionScores(qh, kh, ops.fused), [b, nh, t, t])); // [B, H, T, T]
        const p = hooks.at(patternName, tf.softmax(s)); // [B, H, T, T]
        zh = ops.batchMatMul(tf.reshape(p, [b * nh, t, t]) as tf.Tensor3D, vh);
      } else {
        zh = ops.causalAttention(qh, kh, vh);
      }
      let z: tf.Tensor = tf.transpose(tf.reshape(zh, [b, nh, t, dh]), [0, 2, 1, 3]); // [B, T, H, Dh]
      z = hooks.at(`${blk}.attn.hook_z`, z);
      const attnOut = this.hook2(
        pass,
        `${blk}.hook_attn_out`,
        ops.linear(tf.reshape(z, [n, d]) as tf.Tensor2D, this.p(`${h}.attn.c_proj.weight`), this.p(`${h}.attn.c_proj.bias`)),
        d,
      ); // [N, D]
      x = this.hook2(pass, `${blk}.hook_resid_mid`, tf.add(x, attnOut), d);
      const ln2 = this.hook2(pass, `${blk}.ln2.hook_normalized`, ops.layerNorm(x, this.p(`${h}.ln_2.weight`), this.p(`${h}.ln_2.bias`), c.lnEps), d);
      const pre = this.hook2(pass, `${blk}.mlp.hook_pre`, ops.linear(ln2, this.p(`${h}.mlp.c_fc.weight`), this.p(`${h}.mlp.c_fc.bias`)), c.dMlp); // [N, 4D]
      const post = this.hook2(pass, `${blk}.mlp.hook_post`, ops.gelu(pre), c.dMlp);
      const mlpOut = this.hook2(pass, `${blk}.hook_mlp_out`, ops.linear(post, this.p(`${h}.mlp.c_proj.weight`), this.p(`${h}.mlp.c_proj.bias`)), d);
      x = this.hook2(pass, `${blk}.hook_resid_post`, tf.add(x, mlpOut), d);
    }
    const lnf = ops.layerNorm(x, this.p('transformer.ln_f.weight'), this.p('transformer.ln_f.bias'), c.lnEps);
    return this.hook2(pass, 'ln_final.hook_normalized', lnf, d);
  }
}
