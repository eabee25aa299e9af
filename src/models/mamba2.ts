/**
 * Mamba-2 (Dao & Gu 2024): per layer RMSNorm -> input projection -> short causal depthwise
 * convolution + SiLU -> SSD (state matrix A = scalar x identity per head, input-dependent step dt,
 * B and C shared by all heads) with a D skip -> gated RMSNorm -> output projection, residual.
 *
 * The SSD runs in its quadratic ("dual", attention-like) form: y = M x with the token-mixing matrix
 *   M[b,h,t,s] = (C_t . B_s) * exp(sum_{r=s+1..t} dt_r A_h) * dt_s   for s <= t, 0 otherwise,
 * which equals the recurrence h_t = exp(dt_t A) h_{t-1} + dt_t x_t B_t^T, y_t = h_t C_t.
 * M is the hook point `blocks.{l}.ssd.hook_pattern` [B,H,T,T]; the per-head output (with the D
 * skip) is `blocks.{l}.ssd.hook_z` [B,T,H,P]: zeroing head h removes that head entirely.
 *
 * Parameter names follow Hugging Face's Mamba2 (`backbone.layers.{l}.mixer.in_proj.weight`, ...),
 * with linear weights stored [in, out] and the depthwise conv weight stored [kernel, channels].
 */
import * as tf from '@tensorflow/tfjs-core';
import { splitLast, type Ops } from '../engine/ops';
import type { Rng } from '../engine/rng';
import { BaseLM, envSpecs, type ParamSpec, type Pass } from './base';
import { badConfig, posInt, presetsFrom, type ArchAdapter } from './adapter';
import type { BaseModelConfig, ForwardOptions, ModelAnatomy } from './types';

export interface Mamba2Config extends BaseModelConfig {
  arch: 'mamba2';
  /** SSM state size N (shared by all heads: one B and one C group). */
  dState: number;
  /** Head size P; heads = expand x dModel / headDim. */
  headDim: number;
  /** Inner width = expand x dModel. */
  expand: number;
  /** Width of the short causal depthwise convolution. */
  convKernel: number;
  tiedEmbeddings: boolean;
  normEps: number;
  initStd: number;
  /** Range of the initial step size dt (log-uniform), as in Mamba-2. */
  dtMin: number;
  dtMax: number;
  fused: boolean;
}

export function mamba2Dims(c: Mamba2Config): { dInner: number; nHeads: number; convDim: number; projDim: number } {
  const dInner = c.expand * c.dModel;
  const nHeads = dInner / c.headDim;
  const convDim = dInner + 2 * c.dState;
  return { dInner, nHeads, convDim, projDim: 2 * dInner + 2 * c.dState + nHeads };
}

export function mamba2ParamSpecs(c: Mamba2Config): ParamSpec[] {
  const { dInner, nHeads, convDim, projDim } = mamba2Dims(c);
  const d = c.dModel;
  const ones = { kind: 'const', value: 1 } as const;
  const kb = 1 / Math.sqrt(c.convKernel);
  const specs: ParamSpec[] = [{ name: 'backbone.embeddings.weight', shape: [c.vocabSize, d], init: { kind: 'normal', std: c.initStd } }];
  for (let l = 0; l < c.nLayers; l++) {
    const m = `backbone.layers.${l}`;
    specs.push(
      { name: `${m}.norm.weight`, shape: [d], init: ones },
      { name: `${m}.mixer.in_proj.weight`, shape: [d, projDim], init: { kind: 'normal', std: c.initStd } },
      { name: `${m}.mixer.conv1d.weight`, shape: [c.convKernel, convDim], init: { kind: 'uniform', low: -kb, high: kb } },
      { name: `${m}.mixer.conv1d.bias`, shape: [convDim], init: { kind: 'uniform', low: -kb, high: kb } },
      {
        name: `${m}.mixer.dt_bias`,
        shape: [nHeads],
        init: {
          kind: 'fn',
          fn: (rng: Rng, n: number) => {
            // dt ~ log-uniform [dtMin, dtMax]; store softplus^-1(dt)
            const a = new Float32Array(n);
            for (let i = 0; i < n; i++) {
              const dt = Math.max(1e-4, Math.exp(Math.log(c.dtMin) + rng.next() * (Math.log(c.dtMax) - Math.log(c.dtMin))));
              a[i] = dt + Math.log(-Math.expm1(-dt));
            }
            return a;
          },
        },
      },
      {
        name: `${m}.mixer.A_log`,
        shape: [nHeads],
        init: { kind: 'fn', fn: (rng: Rng, n: number) => Float32Array.from({ length: n }, () => Math.log(1 + 15 * rng.next())) },
      },
      { name: `${m}.mixer.D`, shape: [nHeads], init: ones },
      { name: `${m}.mixer.norm.weight`, shape: [dInner], init: ones },
      { name: `${m}.mixer.out_proj.weight`, shape: [dInner, d], init: { kind: 'normal', std: c.initStd / Math.sqrt(2 * c.nLayers) } },
    );
  }
  specs.push({ name: 'backbone.norm_f.weight', shape: [d], init: ones });
  if (!c.tiedEmbeddings) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, d], init: { kind: 'normal', std: c.initStd } });
  specs.push(...envSpecs(c, c.initStd));
  return specs;
}

/**
 * The SSD token-mixing matrix: dt [B,T,H], A [H] (negative), B and C [B,T,N] -> M [B,H,T,T].
 */
export function ssdPattern(dt: tf.Tensor3D, a: tf.Tensor1D, bm: tf.Tensor3D, cm: tf.Tensor3D, ops: Ops): tf.Tensor4D {
  const cb = ops.batchMatMul(cm, tf.transpose(bm, [0, 2, 1]) as tf.Tensor3D); // [B, T, T]: C_t . B_s
  return ops.ssdPattern(dt, a, cb);
}

/** y = M x per head: M [B,H,T,T], x [B,T,H,P] -> [B,T,H,P]. */
export function ssdApply(m: tf.Tensor4D, x: tf.Tensor4D, ops: Ops): tf.Tensor4D {
  const [b, h, t] = m.shape;
  const p = x.shape[3];
  const xh = tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b * h, t, p]) as tf.Tensor3D; // [B*H, T, P]
  const y = ops.batchMatMul(tf.reshape(m, [b * h, t, t]) as tf.Tensor3D, xh); // [B*H, T, P]
  return tf.transpose(tf.reshape(y, [b, h, t, p]), [0, 2, 1, 3]) as tf.Tensor4D;
}

/** The SSD in quadratic form (without the D skip): x [B,T,H,P], dt [B,T,H], A [H], B/C [B,T,N] -> [B,T,H,P]. */
export function ssdQuadratic(x: tf.Tensor4D, dt: tf.Tensor3D, a: tf.Tensor1D, bm: tf.Tensor3D, cm: tf.Tensor3D, ops: Ops): tf.Tensor4D {
  return tf.tidy(() => ssdApply(ssdPattern(dt, a, bm, cm, ops), x, ops));
}

/**
 * Reference: the SSD as the sequential recurrence, in plain JavaScript (float64).
 * h_t = exp(dt_t A) h_{t-1} + dt_t x_t B_t^T ([P, N] per head), y_t = h_t C_t. Returns [B,T,H,P] values.
 */
export function ssdRecurrent(x: tf.Tensor4D, dt: tf.Tensor3D, a: tf.Tensor1D, bm: tf.Tensor3D, cm: tf.Tensor3D): Float64Array {
  const [b, t, h, p] = x.shape;
  const n = bm.shape[2];
  const xv = x.dataSync(),
    dv = dt.dataSync(),
    av = a.dataSync(),
    bv = bm.dataSync(),
    cv = cm.dataSync();
  const y = new Float64Array(b * t * h * p);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const state = new Float64Array(p * n);
      for (let ti = 0; ti < t; ti++) {
        const d = dv[(bi * t + ti) * h + hi];
        const decay = Math.exp(d * av[hi]);
        for (let pi = 0; pi < p; pi++) {
          const xval = xv[((bi * t + ti) * h + hi) * p + pi];
          let acc = 0;
          for (let ni = 0; ni < n; ni++) {
            const k = pi * n + ni;
            state[k] = decay * state[k] + d * xval * bv[(bi * t + ti) * n + ni];
            acc += state[k] * cv[(bi * t + ti) * n + ni];
          }
          y[((bi * t + ti) * h + hi) * p + pi] = acc;
        }
      }
    }
  }
  return y;
}

export function mamba2Anatomy(c: Mamba2Config): ModelAnatomy {
  const { nHeads } = mamba2Dims(c);
  const hookPoints = ['hook_embed'];
  const layers = Array.from({ length: c.nLayers }, (_, l) => {
    const b = `blocks.${l}`;
    hookPoints.push(
      `${b}.hook_resid_pre`,
      `${b}.ssd.hook_dt`,
      `${b}.ssd.hook_pattern`,
      `${b}.ssd.hook_z`,
      `${b}.hook_mixer_out`,
      `${b}.hook_resid_post`,
    );
    return {
      residPre: `${b}.hook_resid_pre`,
      residPost: `${b}.hook_resid_post`,
      heads: { hook: `${b}.ssd.hook_z`, axis: 2, size: nHeads, unit: 'head' as const },
      mixing: { hook: `${b}.ssd.hook_pattern`, kind: 'ssd' as const, heads: nHeads },
    };
  });
  hookPoints.push('ln_final.hook_normalized');
  return {
    hookPoints,
    layers,
    lens: {
      input: 'blocks.0.hook_resid_pre',
      norm: { kind: 'rms', weight: 'backbone.norm_f.weight', eps: c.normEps },
      unembed: c.tiedEmbeddings ? 'backbone.embeddings.weight' : 'lm_head.weight',
    },
  };
}

/** One layer's parameters (names: `backbone.layers.{l}.` + norm.weight, mixer.in_proj.weight, ...). */
interface MixerParams {
  norm: tf.Tensor1D;
  inProj: tf.Tensor2D; // [D, 2 Di + 2 N + H]
  convW: tf.Tensor2D; // [K, C]
  convB: tf.Tensor1D; // [C]
  dtBias: tf.Tensor1D; // [H]
  aLog: tf.Tensor1D; // [H]
  d: tf.Tensor1D; // [H]
  gateNorm: tf.Tensor1D; // [Di]
  outProj: tf.Tensor2D; // [Di, D]
}

export class Mamba2 extends BaseLM<Mamba2Config> {
  readonly arch = 'mamba2' as const;

  constructor(config: Mamba2Config, seed: number) {
    super(config, mamba2ParamSpecs(config), mamba2Anatomy(config), seed);
  }

  protected unembedding(): tf.Tensor2D {
    return this.tiedOrHead('backbone.embeddings.weight');
  }

  /** Layer l's parameters, resolved once per forward pass. */
  private layerParams(l: number): MixerParams {
    const m = `backbone.layers.${l}`;
    const p = <R extends tf.Tensor>(n: string) => this.p<R>(`${m}.${n}`);
    return {
      norm: p('norm.weight'),
      inProj: p('mixer.in_proj.weight'),
      convW: p('mixer.conv1d.weight'),
      convB: p('mixer.conv1d.bias'),
      dtBias: p('mixer.dt_bias'),
      aLog: p('mixer.A_log'),
      d: p('mixer.D'),
      gateNorm: p('mixer.norm.weight'),
      outProj: p('mixer.out_proj.weight'),
    };
  }

  /** The Mamba-2 mixer of layer l: x [N, D] -> mixer output [N, D] (before the residual). */
  private mixer(pass: Pass, l: number, x: tf.Tensor2D, mp: MixerParams): tf.Tensor2D {
    const c = this.config;
    const { b, t, ops, hooks } = pass;
    const n = b * t;
    const { dInner, nHeads, convDim } = mamba2Dims(c);
    const blk = `blocks.${l}`;
    const hn = ops.rmsNorm(x, mp.norm, c.normEps); // [N, D]
    const proj = ops.linear(hn, mp.inProj); // [N, 2 Di + 2 N + H]
    const [z, xbcRaw, dtRaw] = splitLast(proj, [dInner, convDim, nHeads]);
    const xbc = ops.silu(ops.causalConv(tf.reshape(xbcRaw, [b, t, convDim]) as tf.Tensor3D, mp.convW, mp.convB)); // [B, T, C]
    const [xs, bm, cm] = splitLast(xbc, [dInner, c.dState, c.dState]); // [B, T, Di], [B, T, N] x2
    const dt = hooks.at(`${blk}.ssd.hook_dt`, tf.reshape(tf.softplus(tf.add(dtRaw, mp.dtBias)), [b, t, nHeads]) as tf.Tensor3D); // [B, T, H]
    const a = tf.neg(tf.exp(mp.aLog)) as tf.Tensor1D; // [H]
    const pattern = hooks.at(`${blk}.ssd.hook_pattern`, ssdPattern(dt, a, bm, cm, ops)); // [B, H, T, T]
    const xh = tf.reshape(xs, [b, t, nHeads, c.headDim]) as tf.Tensor4D; // [B, T, H, P]
    const skip = tf.mul(xh, tf.reshape(mp.d, [1, 1, nHeads, 1]));
    const y = hooks.at(`${blk}.ssd.hook_z`, tf.add(ssdApply(pattern, xh, ops), skip)); // [B, T, H, P]
    const gated = tf.mul(tf.reshape(y, [n, dInner]), ops.silu(z)) as tf.Tensor2D; // [N, Di]
    const yn = ops.rmsNorm(gated, mp.gateNorm, c.normEps);
    return this.hook2(pass, `${blk}.hook_mixer_out`, ops.linear(yn, mp.outProj), c.dModel); // [N, D]
  }

  protected body(tokens: tf.Tensor2D, pass: Pass, opts: ForwardOptions): tf.Tensor2D {
    const c = this.config;
    const d = c.dModel;
    let x = this.embedTokens(tokens, this.p('backbone.embeddings.weight'), pass); // [N, D]
    const env = this.envEmbedding(opts.envFeatures, pass);
    if (env) x = tf.add(x, env);
    for (let l = 0; l < c.nLayers; l++) {
      const blk = `blocks.${l}`;
      x = this.hook2(pass, `${blk}.hook_resid_pre`, x, d);
      x = this.hook2(pass, `${blk}.hook_resid_post`, tf.add(x, this.mixer(pass, l, x, this.layerParams(l))), d);
    }
    return this.hook2(pass, 'ln_final.hook_normalized', pass.ops.rmsNorm(x, this.p('backbone.norm_f.weight'), c.normEps), d);
  }
}

const DEFAULTS = {
  arch: 'mamba2',
  expand: 2,
  convKernel: 4,
  tiedEmbeddings: true,
  normEps: 1e-5,
  initStd: 0.02,
  dtMin: 0.001,
  dtMax: 0.1,
  fused: true,
  envFeatureDim: 0,
} as const satisfies Partial<Mamba2Config>;

export const mamba2Adapter: ArchAdapter<Mamba2Config> = {
  arch: 'mamba2',
  title: 'Mamba-2',
  summary: 'selective state space model; the SSD in its quadratic (attention-like) form',
  defaults: DEFAULTS,
  presets: presetsFrom(DEFAULTS, {
    tiny: { contextLength: 32, dModel: 32, nLayers: 2, dState: 16, headDim: 16 },
    quick: { contextLength: 64, dModel: 128, nLayers: 4, dState: 32, headDim: 32 },
    medium: { contextLength: 128, dModel: 128, nLayers: 8, dState: 32, headDim: 32 },
    paper: { contextLength: 512, dModel: 768, nLayers: 12, dState: 64, headDim: 64 },
  }),
  validate(c) {
    for (const k of ['dState', 'headDim', 'expand', 'convKernel']) posInt(c, k);
    if ((c.expand * c.dModel) % c.headDim !== 0)
      throw badConfig(`expand x dModel = ${c.expand * c.dModel} is not divisible by headDim ${c.headDim}`);
    if (!(c.dtMin > 0 && c.dtMax >= c.dtMin)) throw badConfig(`need 0 < dtMin <= dtMax (got ${c.dtMin}, ${c.dtMax})`);
    return c;
  },
  paramSpecs: mamba2ParamSpecs,
  anatomy: mamba2Anatomy,
  create: (c, seed) => new Mamba2(c, seed),
};
