/**
 * Gated Linear Attention Transformer (Yang et al. 2024): the pre-LN block of the Transformer with
 * its softmax attention replaced by gated linear attention (src/engine/ops-gla.ts), no position
 * embedding (the data-dependent decay orders the sequence), GELU MLP, final LayerNorm.
 *
 * Per layer and head (K = keyRatio x dModel / nHeads, V = dModel / nHeads):
 *   q = ln1 W_q, k = ln1 W_k, v = ln1 W_v,
 *   log alpha = log sigmoid(ln1 W_a1 W_a2 + b_a) / gateTemp   (low-rank, data-dependent gates [K])
 *   o = GLA(q / sqrt(K), k, v, log alpha); out = (RMSNorm_head(o) * swish(ln1 W_g)) W_o
 * The token-mixing matrix of the parallel form is `blocks.{l}.attn.hook_pattern` [B,H,T,T]; the
 * per-head outputs (before the norm and the output gate) are `blocks.{l}.attn.hook_z` [B,T,H,V];
 * the log gates are `blocks.{l}.attn.hook_gate` [B,T,H,K].
 *
 * Names: the embedding, ln_1, ln_2, mlp and ln_f follow GPT-2 (`transformer.h.{l}...`); the
 * attention's projections follow flash-linear-attention's GLA (`attn.q_proj`, `k_proj`,
 * `v_proj`, `gk_proj.0|1`, `g_proj`, `g_norm`, `o_proj`), all stored [in, out].
 */
import * as tf from '@tensorflow/tfjs-core';
import { glaPatternFused, glaPatternStock } from '../engine/ops-gla';
import { BaseLM, type ParamSpec, type Pass } from './base';
import { badConfig, posInt, presetsFrom, type ArchAdapter } from './adapter';
import { finalNorm, finalSpecs, gpt2Lens, mlpBlock, mlpHooks, mlpParams } from './transformer';
import type { BaseModelConfig, ForwardOptions, ModelAnatomy } from './types';

export interface GlaConfig extends BaseModelConfig {
  arch: 'gla';
  nHeads: number;
  dMlp: number;
  /** Key (and query, gate) width = keyRatio x dModel (GLA: 0.5). */
  keyRatio: number;
  /** Rank of the gate projection (GLA: 16). */
  gateRank: number;
  /** The gates are sigmoid(.)^(1 / gateTemp) (GLA: 16), which keeps them near 1 at the start. */
  gateTemp: number;
  tiedEmbeddings: boolean;
  lnEps: number;
  initStd: number;
  fused: boolean;
}

export function glaDims(c: GlaConfig): { dk: number; hk: number; hv: number } {
  const dk = Math.round(c.keyRatio * c.dModel);
  return { dk, hk: dk / c.nHeads, hv: c.dModel / c.nHeads };
}

export function glaParamSpecs(c: GlaConfig): ParamSpec[] {
  const d = c.dModel;
  const { dk, hv } = glaDims(c);
  const std = c.initStd;
  const projStd = std / Math.sqrt(2 * c.nLayers);
  const zeros = { kind: 'const', value: 0 } as const;
  const ones = { kind: 'const', value: 1 } as const;
  const normal = (s: number) => ({ kind: 'normal', std: s }) as const;
  const specs: ParamSpec[] = [{ name: 'transformer.wte.weight', shape: [c.vocabSize, d], init: normal(std) }];
  for (let l = 0; l < c.nLayers; l++) {
    const h = `transformer.h.${l}`;
    specs.push(
      { name: `${h}.ln_1.weight`, shape: [d], init: ones },
      { name: `${h}.ln_1.bias`, shape: [d], init: zeros },
      { name: `${h}.attn.q_proj.weight`, shape: [d, dk], init: normal(std) },
      { name: `${h}.attn.k_proj.weight`, shape: [d, dk], init: normal(std) },
      { name: `${h}.attn.v_proj.weight`, shape: [d, d], init: normal(std) },
      { name: `${h}.attn.gk_proj.0.weight`, shape: [d, c.gateRank], init: normal(std) },
      { name: `${h}.attn.gk_proj.1.weight`, shape: [c.gateRank, dk], init: normal(std) },
      { name: `${h}.attn.gk_proj.1.bias`, shape: [dk], init: zeros },
      { name: `${h}.attn.g_proj.weight`, shape: [d, d], init: normal(std) },
      { name: `${h}.attn.g_norm.weight`, shape: [hv], init: ones },
      { name: `${h}.attn.o_proj.weight`, shape: [d, d], init: normal(projStd) },
      { name: `${h}.ln_2.weight`, shape: [d], init: ones },
      { name: `${h}.ln_2.bias`, shape: [d], init: zeros },
      { name: `${h}.mlp.c_fc.weight`, shape: [d, c.dMlp], init: normal(std) },
      { name: `${h}.mlp.c_fc.bias`, shape: [c.dMlp], init: zeros },
      { name: `${h}.mlp.c_proj.weight`, shape: [c.dMlp, d], init: normal(projStd) },
      { name: `${h}.mlp.c_proj.bias`, shape: [d], init: zeros },
    );
  }
  specs.push(...finalSpecs(c));
  return specs;
}

export function glaAnatomy(c: GlaConfig): ModelAnatomy {
  const hookPoints = ['hook_embed'];
  const layers = Array.from({ length: c.nLayers }, (_, l) => {
    const b = `blocks.${l}`;
    const a = `${b}.attn`;
    hookPoints.push(
      `${b}.hook_resid_pre`,
      `${b}.ln1.hook_normalized`,
      ...['hook_q', 'hook_k', 'hook_v', 'hook_gate', 'hook_pattern', 'hook_z'].map((n) => `${a}.${n}`),
      `${b}.hook_attn_out`,
      `${b}.hook_resid_mid`,
      ...mlpHooks(b),
    );
    return {
      residPre: `${b}.hook_resid_pre`,
      residPost: `${b}.hook_resid_post`,
      heads: { hook: `${a}.hook_z`, axis: 2, size: c.nHeads, unit: 'head' as const },
      mixing: { hook: `${a}.hook_pattern`, kind: 'gla' as const, heads: c.nHeads },
    };
  });
  hookPoints.push('ln_final.hook_normalized');
  return { hookPoints, layers, lens: gpt2Lens(c) };
}

type P1 = tf.Tensor1D;
type P2 = tf.Tensor2D;

interface GlaAttnParams {
  wq: P2;
  wk: P2;
  wv: P2;
  wa1: P2;
  wa2: P2;
  ba: P1;
  wg: P2;
  gnorm: P1;
  wo: P2;
}

export class Gla extends BaseLM<GlaConfig> {
  readonly arch = 'gla' as const;

  constructor(config: GlaConfig, seed: number) {
    super(config, glaParamSpecs(config), glaAnatomy(config), seed);
  }

  protected unembedding(): tf.Tensor2D {
    return this.tiedOrHead('transformer.wte.weight');
  }

  private attnParams(h: string): GlaAttnParams {
    const p = <R extends tf.Tensor>(n: string) => this.p<R>(`${h}.attn.${n}`);
    return {
      wq: p('q_proj.weight'),
      wk: p('k_proj.weight'),
      wv: p('v_proj.weight'),
      wa1: p('gk_proj.0.weight'),
      wa2: p('gk_proj.1.weight'),
      ba: p('gk_proj.1.bias'),
      wg: p('g_proj.weight'),
      gnorm: p('g_norm.weight'),
      wo: p('o_proj.weight'),
    };
  }

  /** Gated linear attention of block l: ln1 [N, D] -> attention output [N, D]. */
  private attention(pass: Pass, l: number, ln1: P2, ap: GlaAttnParams): P2 {
    const c = this.config;
    const { b, t, ops, hooks } = pass;
    const d = c.dModel,
      nh = c.nHeads,
      n = b * t;
    const { hk, hv } = glaDims(c);
    const a = `blocks.${l}.attn`;
    // [N, H*X] -> hooked as [B, T, H, X] -> [B*H, T, X]
    const heads = (name: string, y: tf.Tensor, x: number): tf.Tensor3D => {
      const y4 = hooks.at(name, tf.reshape(y, [b, t, nh, x]));
      return tf.reshape(tf.transpose(y4, [0, 2, 1, 3]), [b * nh, t, x]);
    };
    const q = heads(`${a}.hook_q`, ops.linear(ln1, ap.wq), hk);
    const k = heads(`${a}.hook_k`, ops.linear(ln1, ap.wk), hk);
    const v = heads(`${a}.hook_v`, ops.linear(ln1, ap.wv), hv);
    const gateLogits = ops.linear(ops.linear(ln1, ap.wa1), ap.wa2, ap.ba); // [N, Dk]
    const logA = heads(`${a}.hook_gate`, tf.div(tf.neg(tf.softplus(tf.neg(gateLogits))), c.gateTemp), hk); // log sigmoid / temp: [B*H, T, K], <= 0
    const pattern = (ops.fused ? glaPatternFused : glaPatternStock)(tf.mul(q, 1 / Math.sqrt(hk)), k, logA); // [B*H, T, T]
    const p = hooks.at(`${a}.hook_pattern`, tf.reshape(pattern, [b, nh, t, t])); // [B, H, T, T]
    const zh = ops.batchMatMul(tf.reshape(p, [b * nh, t, t]) as tf.Tensor3D, v); // [B*H, T, V]
    const z = hooks.at(`${a}.hook_z`, tf.transpose(tf.reshape(zh, [b, nh, t, hv]), [0, 2, 1, 3])); // [B, T, H, V]
    const normed = tf.reshape(ops.rmsNorm(tf.reshape(z, [n * nh, hv]) as P2, ap.gnorm, c.lnEps), [n, d]); // per-head RMS norm
    const g = ops.linear(ln1, ap.wg); // [N, D]
    const gated = tf.mul(normed, ops.silu(g)) as P2; // output gate swish(g)
    return this.hook2(pass, `blocks.${l}.hook_attn_out`, ops.linear(gated, ap.wo), d);
  }

  protected body(tokens: tf.Tensor2D, pass: Pass, opts: ForwardOptions): tf.Tensor2D {
    const c = this.config;
    const d = c.dModel;
    let x = this.embedTokens(tokens, this.p('transformer.wte.weight'), pass); // [N, D]
    const env = this.envEmbedding(opts.envFeatures, pass);
    if (env) x = tf.add(x, env);
    for (let l = 0; l < c.nLayers; l++) {
      const blk = `blocks.${l}`;
      const h = `transformer.h.${l}`;
      x = this.hook2(pass, `${blk}.hook_resid_pre`, x, d);
      const ln1 = this.hook2(
        pass,
        `${blk}.ln1.hook_normalized`,
        pass.ops.layerNorm(x, this.p(`${h}.ln_1.weight`), this.p(`${h}.ln_1.bias`), c.lnEps),
        d,
      );
      x = this.hook2(pass, `${blk}.hook_resid_mid`, tf.add(x, this.attention(pass, l, ln1, this.attnParams(h))), d);
      x = mlpBlock(
        this,
        pass,
        blk,
        x,
        mlpParams(<R extends tf.Tensor>(n: string) => this.p<R>(n), h),
      );
    }
    return finalNorm(this, pass, x);
  }
}

const DEFAULTS = {
  arch: 'gla',
  keyRatio: 0.5,
  gateRank: 16,
  gateTemp: 16,
  tiedEmbeddings: true,
  lnEps: 1e-5,
  initStd: 0.02,
  fused: true,
  envFeatureDim: 0,
} as const satisfies Partial<GlaConfig>;

export const glaAdapter: ArchAdapter<GlaConfig> = {
  arch: 'gla',
  title: 'Gated Linear Attention Transformer',
  summary: 'the Transformer block with gated linear attention (data-dependent decay gates) instead of softmax attention; no positions',
  defaults: DEFAULTS,
  presets: presetsFrom(DEFAULTS, {
    tiny: { contextLength: 32, dModel: 32, nLayers: 2, nHeads: 2, dMlp: 128 },
    quick: { contextLength: 64, dModel: 128, nLayers: 4, nHeads: 4, dMlp: 512 },
    medium: { contextLength: 128, dModel: 128, nLayers: 8, nHeads: 4, dMlp: 512 },
    paper: { contextLength: 512, dModel: 768, nLayers: 12, nHeads: 12, dMlp: 3072 },
  }),
  validate(c) {
    for (const k of ['nHeads', 'dMlp', 'gateRank']) posInt(c, k);
    if (c.dModel % c.nHeads !== 0) throw badConfig(`dModel ${c.dModel} is not divisible by nHeads ${c.nHeads}`);
    const dk = c.keyRatio * c.dModel;
    if (!(c.keyRatio > 0) || !Number.isInteger(dk) || dk % c.nHeads !== 0) {
      throw badConfig(
        `keyRatio x dModel = ${dk} must be a positive whole multiple of nHeads ${c.nHeads}`,
        'e.g. keyRatio 0.5 with dModel and nHeads powers of two',
      );
    }
    if (!(c.gateTemp > 0)) throw badConfig(`gateTemp must be > 0 (got ${c.gateTemp})`);
    return c;
  },
  paramSpecs: glaParamSpecs,
  anatomy: glaAnatomy,
  create: (c, seed) => new Gla(c, seed),
};
