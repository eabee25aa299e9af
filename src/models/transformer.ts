/**
 * GPT-2-style Transformer: pre-LN blocks, multi-head causal attention, GELU MLP, final LayerNorm,
 * tied or untied unembedding. Parameter names are Hugging Face GPT-2 names with Conv1D layout
 * ([in, out]), so a checkpoint with the default switches maps one-to-one onto a GPT-2 folder.
 *
 * Switches (the ingredients of attention, after "Deconstructing Attention"):
 * - `positional`: `learned` (GPT-2's wpe), `rope` (rotary, on q and k) or `none` (NoPE).
 * - `mixing` (per layer): `softmax` (sequence-dependent attention), `uniform` (every earlier
 *   position alike), `static` (a learned, input-independent causal mixing matrix per head) or
 *   `none` (each position reads only itself).
 * - `similarity` (per layer, for `mixing: softmax`): `softmax` (dot-product softmax) or `linear`
 *   (the kernel phi(q) . phi(k) with phi = elu + 1, normalised over the causal prefix).
 * - `qkFrom` (per layer): queries and keys from the current hidden state (`hidden`) or from the
 *   block's input embeddings (`embed`: token + position embedding, through the block's ln_1).
 * - `mlp` (per layer): the block's GELU MLP (`gelu`) or none (`none`: an attention-only block,
 *   whose residual goes from hook_resid_pre + hook_attn_out straight to hook_resid_post).
 *
 * Attention runs fused (one op with a hand-written gradient) unless a hook or the cache wants that
 * layer's scores or pattern: then the pattern is an explicit tensor in the gradient graph, so a
 * hook may replace it with a differentiable function of itself (saliency).
 */
import * as tf from '@tensorflow/tfjs-core';
import { attentionScores, causalMask, splitLast, trilOnes } from '../engine/ops';
import { rope } from '../engine/ops-rope';
import { BaseLM, envSpecs, type ParamSpec, type Pass } from './base';
import { badConfig, perLayer, posInt, presetsFrom, type ArchAdapter, type PerLayer } from './adapter';
import type { BaseModelConfig, ForwardOptions, LayerAnatomy, LensAnatomy, ModelAnatomy } from './types';

export type Positional = 'learned' | 'rope' | 'none';
export type Mixing = 'softmax' | 'uniform' | 'static' | 'none';
export type Similarity = 'softmax' | 'linear';
export type QkFrom = 'hidden' | 'embed';
export type Mlp = 'gelu' | 'none';
export const POSITIONALS: readonly Positional[] = ['learned', 'rope', 'none'];
export const MIXINGS: readonly Mixing[] = ['softmax', 'uniform', 'static', 'none'];
export const SIMILARITIES: readonly Similarity[] = ['softmax', 'linear'];
export const QK_FROM: readonly QkFrom[] = ['hidden', 'embed'];
export const MLPS: readonly Mlp[] = ['gelu', 'none'];

export interface TransformerConfig extends BaseModelConfig {
  arch: 'transformer';
  nHeads: number;
  /** Hidden width of the MLP (GPT-2: 4 x dModel). */
  dMlp: number;
  /** Unembedding = transpose of the token embedding (GPT-2 default). Untied adds `lm_head.weight`. */
  tiedEmbeddings: boolean;
  lnEps: number;
  /** Std of the normal initialisation (GPT-2: 0.02; residual output projections get std / sqrt(2 nLayers)). */
  initStd: number;
  /** Fused ops with hand-written gradients (default) or stock tfjs ops with tfjs autodiff (the naive baseline). */
  fused: boolean;
  /** Position information: learned embeddings (GPT-2), rotary (RoPE) or none (NoPE). */
  positional: Positional;
  /** RoPE's base (10000 in RoFormer and most models). */
  ropeBase: number;
  mixing: PerLayer<Mixing>;
  similarity: PerLayer<Similarity>;
  qkFrom: PerLayer<QkFrom>;
  /** The block's MLP: GELU (GPT-2) or none (attention-only). */
  mlp: PerLayer<Mlp>;
}

/** The per-layer switches of layer l. */
export interface LayerSwitches {
  mixing: Mixing;
  similarity: Similarity;
  qkFrom: QkFrom;
  mlp: Mlp;
}

export function layerSwitches(c: TransformerConfig): LayerSwitches[] {
  const L = c.nLayers;
  const mixing = perLayer(c.mixing, 'mixing', MIXINGS, L, 'softmax');
  const similarity = perLayer(c.similarity, 'similarity', SIMILARITIES, L, 'softmax');
  const qkFrom = perLayer(c.qkFrom, 'qkFrom', QK_FROM, L, 'hidden');
  const mlp = perLayer(c.mlp, 'mlp', MLPS, L, 'gelu');
  return mixing.map((m, l) => ({ mixing: m, similarity: similarity[l], qkFrom: qkFrom[l], mlp: mlp[l] }));
}

/** Whether a layer computes queries and keys (only sequence-dependent attention does). */
const usesQk = (s: LayerSwitches) => s.mixing === 'softmax';

export function transformerParamSpecs(c: TransformerConfig): ParamSpec[] {
  const d = c.dModel;
  const std = c.initStd;
  const projStd = std / Math.sqrt(2 * c.nLayers);
  const zeros = { kind: 'const', value: 0 } as const;
  const ones = { kind: 'const', value: 1 } as const;
  const specs: ParamSpec[] = [{ name: 'transformer.wte.weight', shape: [c.vocabSize, d], init: { kind: 'normal', std } }];
  if (c.positional === 'learned')
    specs.push({ name: 'transformer.wpe.weight', shape: [c.contextLength, d], init: { kind: 'normal', std: std / 2 } });
  layerSwitches(c).forEach((s, l) => {
    const h = `transformer.h.${l}`;
    const qkv = usesQk(s) ? 3 * d : d; // q, k, v, or v alone
    specs.push(
      { name: `${h}.ln_1.weight`, shape: [d], init: ones },
      { name: `${h}.ln_1.bias`, shape: [d], init: zeros },
      { name: `${h}.attn.c_attn.weight`, shape: [d, qkv], init: { kind: 'normal', std } },
      { name: `${h}.attn.c_attn.bias`, shape: [qkv], init: zeros },
    );
    // static mixing: per-head scores over (query, key) positions; zeros start as uniform attention
    if (s.mixing === 'static')
      specs.push({ name: `${h}.attn.static_scores`, shape: [c.nHeads, c.contextLength, c.contextLength], init: zeros });
    specs.push(
      { name: `${h}.attn.c_proj.weight`, shape: [d, d], init: { kind: 'normal', std: projStd } },
      { name: `${h}.attn.c_proj.bias`, shape: [d], init: zeros },
    );
    if (s.mlp === 'gelu')
      specs.push(
        { name: `${h}.ln_2.weight`, shape: [d], init: ones },
        { name: `${h}.ln_2.bias`, shape: [d], init: zeros },
        { name: `${h}.mlp.c_fc.weight`, shape: [d, c.dMlp], init: { kind: 'normal', std } },
        { name: `${h}.mlp.c_fc.bias`, shape: [c.dMlp], init: zeros },
        { name: `${h}.mlp.c_proj.weight`, shape: [c.dMlp, d], init: { kind: 'normal', std: projStd } },
        { name: `${h}.mlp.c_proj.bias`, shape: [d], init: zeros },
      );
  });
  specs.push(...finalSpecs(c));
  return specs;
}

/** The parameters after the blocks under GPT-2 names (shared with GLA): ln_f, lm_head when untied, the ENV projection. */
export function finalSpecs(c: BaseModelConfig & { tiedEmbeddings: boolean; initStd: number }): ParamSpec[] {
  const d = c.dModel;
  const std = c.initStd;
  const specs: ParamSpec[] = [
    { name: 'transformer.ln_f.weight', shape: [d], init: { kind: 'const', value: 1 } },
    { name: 'transformer.ln_f.bias', shape: [d], init: { kind: 'const', value: 0 } },
  ];
  if (!c.tiedEmbeddings) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, d], init: { kind: 'normal', std } });
  specs.push(...envSpecs(c, std));
  return specs;
}

/** What the lenses read in a model under GPT-2 names (shared with GLA): the first block's input, ln_f, wte or lm_head. */
export function gpt2Lens(c: { lnEps: number; tiedEmbeddings: boolean }): LensAnatomy {
  return {
    input: 'blocks.0.hook_resid_pre',
    norm: { kind: 'layer', weight: 'transformer.ln_f.weight', bias: 'transformer.ln_f.bias', eps: c.lnEps },
    unembed: c.tiedEmbeddings ? 'transformer.wte.weight' : 'lm_head.weight',
  };
}

/** Hook points of one block's attention part, for its switches. */
function attnHooks(b: string, s: LayerSwitches, pos: Positional): string[] {
  const a = `${b}.attn`;
  const names: string[] = [];
  if (usesQk(s)) names.push(`${a}.hook_q`, `${a}.hook_k`);
  names.push(`${a}.hook_v`);
  if (usesQk(s) && pos === 'rope') names.push(`${a}.hook_rot_q`, `${a}.hook_rot_k`);
  if (usesQk(s) && s.similarity === 'softmax') names.push(`${a}.hook_attn_scores`);
  if (s.mixing !== 'none') names.push(`${a}.hook_pattern`);
  names.push(`${a}.hook_z`);
  return names;
}

/** The MLP part of a pre-LN block (shared with GLA): hook names after hook_resid_mid. */
export function mlpHooks(b: string): string[] {
  return [`${b}.ln2.hook_normalized`, `${b}.mlp.hook_pre`, `${b}.mlp.hook_post`, `${b}.hook_mlp_out`, `${b}.hook_resid_post`];
}

export function transformerAnatomy(c: TransformerConfig): ModelAnatomy {
  const hookPoints = ['hook_embed'];
  if (c.positional === 'learned') hookPoints.push('hook_pos_embed');
  const layers: LayerAnatomy[] = layerSwitches(c).map((s, l) => {
    const b = `blocks.${l}`;
    hookPoints.push(
      `${b}.hook_resid_pre`,
      `${b}.ln1.hook_normalized`,
      ...attnHooks(b, s, c.positional),
      `${b}.hook_attn_out`,
      ...(s.mlp === 'gelu' ? [`${b}.hook_resid_mid`, ...mlpHooks(b)] : [`${b}.hook_resid_post`]),
    );
    return {
      residPre: `${b}.hook_resid_pre`,
      residPost: `${b}.hook_resid_post`,
      heads: { hook: `${b}.attn.hook_z`, axis: 2, size: c.nHeads, unit: 'head' },
      ...(s.mixing !== 'none' ? { mixing: { hook: `${b}.attn.hook_pattern`, kind: 'attention' as const, heads: c.nHeads } } : {}),
    };
  });
  hookPoints.push('ln_final.hook_normalized');
  return { hookPoints, layers, lens: gpt2Lens(c) };
}

type P1 = tf.Tensor1D;
type P2 = tf.Tensor2D;

/** One block's parameters, resolved once per forward pass. */
interface BlockParams {
  ln1: { w: P1; b: P1 };
  attn: { wqkv: P2; bqkv: P1; wo: P2; bo: P1; staticScores?: tf.Tensor3D };
  /** absent in `mlp: none` blocks */
  ln2?: { w: P1; b: P1 };
  mlp?: { wfc: P2; bfc: P1; wproj: P2; bproj: P1 };
}

/** The MLP parameters of block l under GPT-2 names (shared with GLA). */
export function mlpParams(p: <R extends tf.Tensor>(n: string) => R, h: string): Required<Pick<BlockParams, 'ln2' | 'mlp'>> {
  return {
    ln2: { w: p(`${h}.ln_2.weight`), b: p(`${h}.ln_2.bias`) },
    mlp: {
      wfc: p(`${h}.mlp.c_fc.weight`),
      bfc: p(`${h}.mlp.c_fc.bias`),
      wproj: p(`${h}.mlp.c_proj.weight`),
      bproj: p(`${h}.mlp.c_proj.bias`),
    },
  };
}

export interface MlpHost {
  readonly config: { dModel: number; dMlp: number; lnEps: number };
  hook2(pass: Pass, name: string, x: P2, width: number): P2;
}

/** The MLP half of a pre-LN block: x [N, D] -> x + mlp(ln_2(x)) [N, D], with its hooks. */
export function mlpBlock(lm: MlpHost, pass: Pass, blk: string, x: P2, bp: Required<Pick<BlockParams, 'ln2' | 'mlp'>>): P2 {
  const { ops } = pass;
  const c = lm.config;
  const d = c.dModel;
  const ln2 = lm.hook2(pass, `${blk}.ln2.hook_normalized`, ops.layerNorm(x, bp.ln2.w, bp.ln2.b, c.lnEps), d);
  const pre = lm.hook2(pass, `${blk}.mlp.hook_pre`, ops.linear(ln2, bp.mlp.wfc, bp.mlp.bfc), c.dMlp); // [N, dMlp]
  const post = lm.hook2(pass, `${blk}.mlp.hook_post`, ops.gelu(pre), c.dMlp);
  const out = lm.hook2(pass, `${blk}.hook_mlp_out`, ops.linear(post, bp.mlp.wproj, bp.mlp.bproj), d); // [N, D]
  return lm.hook2(pass, `${blk}.hook_resid_post`, tf.add(x, out), d);
}

/** The final LayerNorm under GPT-2 names (shared with GLA): x [N, D] -> `ln_final.hook_normalized` [N, D]. */
export function finalNorm(lm: MlpHost & Pick<BaseLM<TransformerConfig>, 'p'>, pass: Pass, x: P2): P2 {
  const lnf = pass.ops.layerNorm(x, lm.p('transformer.ln_f.weight'), lm.p('transformer.ln_f.bias'), lm.config.lnEps);
  return lm.hook2(pass, 'ln_final.hook_normalized', lnf, lm.config.dModel);
}

/** elu(x) + 1: the positive feature map of linear attention. */
function phi<R extends tf.Tensor>(x: R): R {
  return tf.add(tf.elu(x), 1);
}

const uniformCache = new Map<number, tf.Tensor2D>();
/** [T, T] causal uniform mixing: row t is 1/(t+1) on positions 0..t (kept for reuse). */
function uniformPattern(t: number): tf.Tensor2D {
  let m = uniformCache.get(t);
  if (!m || m.isDisposed) {
    const a = new Float32Array(t * t);
    for (let i = 0; i < t; i++) for (let j = 0; j <= i; j++) a[i * t + j] = 1 / (i + 1);
    m = tf.keep(tf.tensor2d(a, [t, t]));
    uniformCache.set(t, m);
  }
  return m;
}

export class Transformer extends BaseLM<TransformerConfig> {
  readonly arch = 'transformer' as const;
  private readonly switches: LayerSwitches[];

  constructor(config: TransformerConfig, seed: number) {
    super(config, transformerParamSpecs(config), transformerAnatomy(config), seed);
    this.switches = layerSwitches(config);
  }

  protected unembedding(): tf.Tensor2D {
    return this.tiedOrHead('transformer.wte.weight');
  }

  private blockParams(l: number): BlockParams {
    const h = `transformer.h.${l}`;
    const p = <R extends tf.Tensor>(n: string) => this.p<R>(n);
    return {
      ln1: { w: p(`${h}.ln_1.weight`), b: p(`${h}.ln_1.bias`) },
      attn: {
        wqkv: p(`${h}.attn.c_attn.weight`),
        bqkv: p(`${h}.attn.c_attn.bias`),
        wo: p(`${h}.attn.c_proj.weight`),
        bo: p(`${h}.attn.c_proj.bias`),
        staticScores: this.switches[l].mixing === 'static' ? p<tf.Tensor3D>(`${h}.attn.static_scores`) : undefined,
      },
      ...(this.switches[l].mlp === 'gelu' ? mlpParams(p, h) : {}),
    };
  }

  /** Token (+ learned position) (+ ENV feature) embedding: [N, D]. */
  private embed(tokens: tf.Tensor2D, pass: Pass, opts: ForwardOptions): P2 {
    const { b, t, hooks } = pass;
    const d = this.config.dModel;
    let x = this.embedTokens(tokens, this.p('transformer.wte.weight'), pass); // [N, D]
    if (this.config.positional === 'learned') {
      const pos = tf.slice(this.p('transformer.wpe.weight'), [0, 0], [t, d]); // [T, D]
      if (hooks.wants('hook_pos_embed')) {
        const pos3 = hooks.at('hook_pos_embed', tf.broadcastTo(tf.reshape(pos, [1, t, d]), [b, t, d])); // [B, T, D]
        x = tf.add(x, tf.reshape(pos3, [b * t, d]));
      } else {
        x = tf.reshape(tf.add(tf.reshape(x, [b, t, d]), pos), [b * t, d]);
      }
    }
    const env = this.envEmbedding(opts.envFeatures, pass);
    return env ? tf.add(x, env) : x;
  }

  /** The attention half of block l: x [N, D] (and the block-input embeddings x0) -> attention output [N, D]. */
  private attention(pass: Pass, l: number, x: P2, x0: P2, bp: BlockParams): P2 {
    const c = this.config;
    const s = this.switches[l];
    const { b, t, ops, hooks } = pass;
    const d = c.dModel,
      nh = c.nHeads,
      dh = d / nh,
      n = b * t;
    const blk = `blocks.${l}`;
    const a = `${blk}.attn`;
    const ln1 = this.hook2(pass, `${blk}.ln1.hook_normalized`, ops.layerNorm(x, bp.ln1.w, bp.ln1.b, c.lnEps), d); // [N, D]
    // [N, D] -> [B*H, T, Dh] and back
    const toHeads = (y: tf.Tensor): tf.Tensor3D => tf.reshape(tf.transpose(tf.reshape(y, [b, t, nh, dh]), [0, 2, 1, 3]), [b * nh, t, dh]);
    const headHook = (name: string, y: tf.Tensor) => (hooks.wants(name) ? hooks.at(name, tf.reshape(y, [b, t, nh, dh])) : y); // [B, T, H, Dh]
    const headHook3 = (name: string, y: tf.Tensor3D) =>
      hooks.wants(name) ? toHeads(hooks.at(name, tf.transpose(tf.reshape(y, [b, nh, t, dh]), [0, 2, 1, 3]))) : y;

    let zh: tf.Tensor3D; // [B*H, T, Dh]
    if (usesQk(s)) {
      const qkv = ops.linear(ln1, bp.attn.wqkv, bp.attn.bqkv); // [N, 3D]
      let [q, k, v] = splitLast(qkv, [d, d, d]) as tf.Tensor[]; // each [N, D]
      if (s.qkFrom === 'embed') {
        const ln0 = ops.layerNorm(x0, bp.ln1.w, bp.ln1.b, c.lnEps);
        [q, k] = splitLast(ops.linear(ln0, bp.attn.wqkv, bp.attn.bqkv), [d, d, d]);
      }
      q = headHook(`${a}.hook_q`, q);
      k = headHook(`${a}.hook_k`, k);
      v = headHook(`${a}.hook_v`, v);
      let qh = toHeads(q),
        kh = toHeads(k);
      const vh = toHeads(v); // [B*H, T, Dh]
      if (c.positional === 'rope') {
        qh = headHook3(`${a}.hook_rot_q`, rope(qh, c.ropeBase));
        kh = headHook3(`${a}.hook_rot_k`, rope(kh, c.ropeBase));
      }
      const explicit = hooks.wants(`${a}.hook_attn_scores`) || hooks.wants(`${a}.hook_pattern`);
      if (s.similarity === 'softmax' && !explicit) {
        zh = ops.causalAttention(qh, kh, vh);
      } else {
        let p: tf.Tensor; // [B, H, T, T]
        if (s.similarity === 'softmax') {
          p = tf.softmax(hooks.at(`${a}.hook_attn_scores`, tf.reshape(attentionScores(qh, kh, ops.fused), [b, nh, t, t])));
        } else {
          const sc = tf.mul(ops.batchMatMul(phi(qh), tf.transpose(phi(kh), [0, 2, 1])), trilOnes(t)); // [B*H, T, T], >= 0
          p = tf.reshape(tf.div(sc, tf.sum(sc, -1, true)), [b, nh, t, t]);
        }
        p = hooks.at(`${a}.hook_pattern`, p);
        zh = ops.batchMatMul(tf.reshape(p, [b * nh, t, t]) as tf.Tensor3D, vh);
      }
    } else {
      const v = headHook(`${a}.hook_v`, ops.linear(ln1, bp.attn.wqkv, bp.attn.bqkv)); // [N, D]
      const vh = toHeads(v);
      if (s.mixing === 'none') {
        zh = vh; // every position reads only itself
      } else {
        const pat: tf.Tensor =
          s.mixing === 'uniform'
            ? tf.reshape(uniformPattern(t), [1, 1, t, t])
            : tf.reshape(tf.softmax(tf.add(tf.slice(bp.attn.staticScores!, [0, 0, 0], [nh, t, t]), causalMask(t))), [1, nh, t, t]);
        const p = hooks.at(`${a}.hook_pattern`, tf.broadcastTo(pat, [b, nh, t, t])); // [B, H, T, T]
        zh = ops.batchMatMul(tf.reshape(p, [b * nh, t, t]) as tf.Tensor3D, vh);
      }
    }
    let z: tf.Tensor = tf.transpose(tf.reshape(zh, [b, nh, t, dh]), [0, 2, 1, 3]); // [B, T, H, Dh]
    z = hooks.at(`${a}.hook_z`, z);
    const out = ops.linear(tf.reshape(z, [n, d]) as tf.Tensor2D, bp.attn.wo, bp.attn.bo); // [N, D]
    return this.hook2(pass, `${blk}.hook_attn_out`, out, d);
  }

  protected body(tokens: tf.Tensor2D, pass: Pass, opts: ForwardOptions): tf.Tensor2D {
    const c = this.config;
    const d = c.dModel;
    const x0 = this.embed(tokens, pass, opts); // [N, D]
    let x = x0;
    for (let l = 0; l < c.nLayers; l++) {
      const blk = `blocks.${l}`;
      const bp = this.blockParams(l);
      x = this.hook2(pass, `${blk}.hook_resid_pre`, x, d);
      const attn = this.attention(pass, l, x, x0, bp);
      if (bp.ln2 && bp.mlp) {
        x = this.hook2(pass, `${blk}.hook_resid_mid`, tf.add(x, attn), d);
        x = mlpBlock(this, pass, blk, x, { ln2: bp.ln2, mlp: bp.mlp });
      } else x = this.hook2(pass, `${blk}.hook_resid_post`, tf.add(x, attn), d);
    }
    return finalNorm(this, pass, x);
  }
}

const DEFAULTS = {
  arch: 'transformer',
  tiedEmbeddings: true,
  lnEps: 1e-5,
  initStd: 0.02,
  fused: true,
  envFeatureDim: 0,
  positional: 'learned',
  ropeBase: 10000,
  mixing: 'softmax',
  similarity: 'softmax',
  qkFrom: 'hidden',
  mlp: 'gelu',
} as const satisfies Partial<TransformerConfig>;

export const transformerAdapter: ArchAdapter<TransformerConfig> = {
  arch: 'transformer',
  title: 'Transformer',
  summary:
    'GPT-2 style: pre-LN, multi-head causal attention, GELU MLP; switches for positions, for each ingredient of attention and for the MLP',
  defaults: DEFAULTS,
  presets: presetsFrom(DEFAULTS, {
    tiny: { contextLength: 32, dModel: 32, nLayers: 2, nHeads: 2, dMlp: 128 },
    quick: { contextLength: 64, dModel: 128, nLayers: 4, nHeads: 4, dMlp: 512 },
    medium: { contextLength: 128, dModel: 128, nLayers: 12, nHeads: 4, dMlp: 512 },
    paper: { contextLength: 512, dModel: 768, nLayers: 12, nHeads: 12, dMlp: 3072 },
  }),
  validate(c) {
    posInt(c, 'nHeads');
    posInt(c, 'dMlp');
    if (c.dModel % c.nHeads !== 0)
      throw badConfig(
        `dModel ${c.dModel} is not divisible by nHeads ${c.nHeads}`,
        'pick nHeads so that dModel / nHeads is a whole head size',
      );
    if (!POSITIONALS.includes(c.positional))
      throw badConfig(`model config field positional: "${c.positional}" is not one of ${POSITIONALS.join(', ')}`);
    if (c.positional === 'rope' && (c.dModel / c.nHeads) % 2 !== 0)
      throw badConfig(`rotary positions need an even head size (dModel / nHeads = ${c.dModel / c.nHeads})`);
    if (!(c.ropeBase > 1)) throw badConfig(`ropeBase must be > 1 (got ${c.ropeBase})`);
    layerSwitches(c); // checks mixing, similarity, qkFrom, mlp
    return c;
  },
  paramSpecs: transformerParamSpecs,
  anatomy: transformerAnatomy,
  create: (c, seed) => new Transformer(c, seed),
  hf: {
    format: 'hf-gpt2',
    unsupported(c) {
      if (c.positional !== 'learned') return `GPT-2 has learned positions; this Transformer has positional: ${c.positional}`;
      const s = layerSwitches(c);
      const odd = s.findIndex((x) => x.mixing !== 'softmax' || x.similarity !== 'softmax' || x.qkFrom !== 'hidden');
      if (odd >= 0)
        return `GPT-2 has dot-product softmax attention on the hidden state in every layer; layer ${odd} has mixing ${s[odd].mixing}, similarity ${s[odd].similarity}, qkFrom ${s[odd].qkFrom}`;
      const noMlp = s.findIndex((x) => x.mlp !== 'gelu');
      if (noMlp >= 0) return `GPT-2 has an MLP in every block; layer ${noMlp} has mlp: ${s[noMlp].mlp}`;
      return undefined;
    },
  },
};
