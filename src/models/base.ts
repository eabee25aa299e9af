/**
 * What the architectures share: seeded parameter creation from a list of specs, hook and
 * cache plumbing, the unembedding, the loss, dispose.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import { fusedOps, stockOps, type Ops } from '../engine/ops';
import { installWasmKernels } from '../engine/ops-kernels';
import { HookRunner, TensorCache } from './hooks';
import type { ActivationCache, Arch, BaseModelConfig, ForwardOptions, LanguageModel, ModelAnatomy } from './types';

export type Init =
  | { kind: 'normal'; std: number }
  | { kind: 'uniform'; low: number; high: number }
  | { kind: 'const'; value: number }
  | { kind: 'fn'; fn: (rng: Rng, size: number) => Float32Array };

export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
}

export function paramCount(specs: ParamSpec[]): number {
  return specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

function initValues(spec: ParamSpec, rng: Rng): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const init = spec.init;
  switch (init.kind) {
    case 'normal':
      return rng.normalArray(size, init.std);
    case 'uniform': {
      const a = new Float32Array(size);
      for (let i = 0; i < size; i++) a[i] = init.low + (init.high - init.low) * rng.next();
      return a;
    }
    case 'const':
      return new Float32Array(size).fill(init.value);
    case 'fn':
      return init.fn(rng, size);
  }
}

/** Shared context of one forward pass. */
export interface Pass {
  hooks: HookRunner;
  ops: Ops;
  /** batch, positions */
  b: number;
  t: number;
}

let modelCounter = 0;

export abstract class BaseLM<C extends BaseModelConfig & { fused: boolean; tiedEmbeddings: boolean }> implements LanguageModel<C> {
  readonly params = new Map<string, tf.Variable>();
  readonly ops: Ops;
  readonly nHeads: number;

  abstract readonly arch: Arch;

  constructor(
    readonly config: C,
    specs: ParamSpec[],
    readonly anatomy: ModelAnatomy,
    seed: number,
  ) {
    this.nHeads = Math.max(0, ...anatomy.layers.map((l) => l.mixing?.heads ?? 0));
    this.ops = config.fused ? fusedOps : stockOps;
    installWasmKernels(); // wasm: the fast Slice and batched-product kernels (no-op elsewhere)
    const rng = new Rng(seed);
    for (const s of specs) {
      // Each parameter draws from its own stream (seed, name): adding a parameter never changes the others.
      const values = initValues(s, rng.fork(s.name));
      const init = tf.tensor(values, s.shape);
      this.params.set(s.name, tf.variable(init, true, `${s.name}#${++modelCounter}`));
      init.dispose();
    }
  }

  /** The parameter `name` (throws INTERNAL if missing: a bug). */
  p<R extends tf.Tensor = tf.Tensor2D>(name: string): R {
    const v = this.params.get(name);
    if (!v) throw new GroundlabError('INTERNAL', `parameter ${name} is missing`);
    return v as unknown as R;
  }

  hookPoints(): string[] {
    return this.anatomy.hookPoints;
  }

  /** Token (and ENV feature) embedding is arch-specific; returns the final normalised hidden state [B*T, D]. */
  protected abstract body(tokens: tf.Tensor2D, pass: Pass, opts: ForwardOptions): tf.Tensor2D;

  /** The [D, V] unembedding matrix. */
  protected abstract unembedding(): tf.Tensor2D;

  /** Learned projection of continuous ENV features, added to the embedding: env [B, T, F] -> [B*T, D]. */
  protected envEmbedding(env: tf.Tensor3D | undefined, pass: Pass): tf.Tensor2D | undefined {
    if (!env) return undefined;
    const f = this.config.envFeatureDim;
    if (f === 0) {
      throw new GroundlabError('BAD_ARGUMENT', 'envFeatures were given to a model built with envFeatureDim 0', {
        hint: 'create the model with envFeatureDim set to the feature size (data.featureDim)',
      });
    }
    if (env.shape[0] !== pass.b || env.shape[1] !== pass.t || env.shape[2] !== f) {
      throw new GroundlabError('BAD_ARGUMENT', `envFeatures have shape [${env.shape}], expected [${pass.b}, ${pass.t}, ${f}]`);
    }
    return pass.ops.linear(tf.reshape(env, [pass.b * pass.t, f]), this.p('env_proj.weight'), this.p<tf.Tensor1D>('env_proj.bias'));
  }

  private checkTokens(tokens: tf.Tensor2D): void {
    if (tokens.rank !== 2) throw new GroundlabError('BAD_ARGUMENT', `tokens must be [batch, positions] (got shape [${tokens.shape}])`);
    if (tokens.shape[1] > this.config.contextLength) {
      throw new GroundlabError(
        'BAD_ARGUMENT',
        `sequence of ${tokens.shape[1]} tokens is longer than the model's context (${this.config.contextLength})`,
        {
          hint: 'cut the sequence or build the model with a larger contextLength',
        },
      );
    }
  }

  private pass(tokens: tf.Tensor2D, opts: ForwardOptions, capture?: Array<string | RegExp>): Pass {
    this.checkTokens(tokens);
    return { hooks: new HookRunner(opts.hooks, capture, this.hookPoints()), ops: this.ops, b: tokens.shape[0], t: tokens.shape[1] };
  }

  forward(tokens: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    const pass = this.pass(tokens, opts);
    return tf.tidy(() => {
      const h = this.body(tokens, pass, opts); // [B*T, D]
      const logits = pass.ops.linear(h, this.unembedding()); // [B*T, V]
      return tf.reshape(logits, [pass.b, pass.t, this.config.vocabSize]) as tf.Tensor3D;
    });
  }

  runWithCache(
    tokens: tf.Tensor2D,
    opts: ForwardOptions & { names?: Array<string | RegExp> } = {},
  ): { logits: tf.Tensor3D; cache: ActivationCache } {
    const pass = this.pass(tokens, opts, opts.names ?? [/.*/]);
    const out = tf.tidy(() => {
      const h = this.body(tokens, pass, opts);
      const logits = tf.reshape(pass.ops.linear(h, this.unembedding()), [pass.b, pass.t, this.config.vocabSize]);
      return { logits, ...Object.fromEntries(pass.hooks.recorded) } as Record<string, tf.Tensor>;
    });
    const logits = out.logits as tf.Tensor3D;
    const entries = this.hookPoints()
      .filter((n) => pass.hooks.recorded.has(n))
      .map((n) => [n, out[n]] as [string, tf.Tensor]);
    return { logits, cache: new TensorCache(entries, this.anatomy) };
  }

  loss(tokens: tf.Tensor2D, targets: tf.Tensor2D, mask?: tf.Tensor2D, opts: ForwardOptions = {}): tf.Scalar {
    const pass = this.pass(tokens, opts);
    if (!tf.util.arraysEqual(targets.shape, tokens.shape)) {
      throw new GroundlabError('BAD_ARGUMENT', `targets have shape [${targets.shape}], tokens [${tokens.shape}]: they must match`);
    }
    return tf.tidy(() => {
      const n = pass.b * pass.t;
      const h = this.body(tokens, pass, opts);
      const logits = pass.ops.linear(h, this.unembedding()); // [N, V]
      return pass.ops.crossEntropy(
        logits,
        tf.reshape(targets, [n]) as tf.Tensor1D,
        mask ? (tf.reshape(mask, [n]) as tf.Tensor1D) : undefined,
      );
    });
  }

  /** Token embedding [B*T, D] with the hook `hook_embed` applied. */
  protected embedTokens(tokens: tf.Tensor2D, table: tf.Tensor2D, pass: Pass): tf.Tensor2D {
    const n = pass.b * pass.t;
    const d = this.config.dModel;
    const ids = tf.reshape(tf.cast(tokens, 'int32'), [n]) as tf.Tensor1D;
    const e = pass.ops.embedding(ids, table); // [N, D]
    return this.hook2(pass, 'hook_embed', e, d);
  }

  /** Apply hooks at `name` to a [B*T, X] tensor seen as [B, T, X]. */
  hook2(pass: Pass, name: string, x: tf.Tensor2D, width: number): tf.Tensor2D {
    if (!pass.hooks.wants(name)) return x;
    const y = pass.hooks.at(name, tf.reshape(x, [pass.b, pass.t, width]));
    return tf.reshape(y, [pass.b * pass.t, width]) as tf.Tensor2D;
  }

  /** The unembedding for tied/untied models: [D, V]. */
  protected tiedOrHead(embedName: string): tf.Tensor2D {
    const w = this.config.tiedEmbeddings ? this.p(embedName) : this.p('lm_head.weight');
    return tf.transpose(w) as tf.Tensor2D;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}

/** Specs of the ENV feature projection (present when envFeatureDim > 0). */
export function envSpecs(c: BaseModelConfig, std: number): ParamSpec[] {
  if (c.envFeatureDim === 0) return [];
  return [
    { name: 'env_proj.weight', shape: [c.envFeatureDim, c.dModel], init: { kind: 'normal', std } },
    { name: 'env_proj.bias', shape: [c.dModel], init: { kind: 'const', value: 0 } },
  ];
}
