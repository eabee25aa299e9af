/**
 * Backward hooks: the gradient of a scalar metric at any hook point. A hook replaces the
 * activation x with an identity `tf.customGrad` (tied into the gradient computation by a zero
 * scalar probe) whose backward pass hands (x, dM/dx) to a recorder; it runs inside an ordinary
 * gradient computation and costs almost nothing (saliency's dL/dA is the same mechanism).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import type { ForwardOptions, HookSpec, LanguageModel } from '../models/types';

/**
 * An identity on `x` (plus a zero scalar `probe` that ties it into the gradient computation)
 * whose gradient function hands (x, dL/dx) to `record`; tensors given to `record` are kept and
 * owned by the caller.
 */
export function recordingIdentity(record: (x: tf.Tensor, dy: tf.Tensor) => void): (x: tf.Tensor, probe: tf.Tensor) => tf.Tensor {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, probe, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([x]);
    return {
      value: tf.add(x, probe),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor;
        record(saved[0], g);
        return [g, tf.sum(g)];
      },
    };
  });
  return (x, probe) => f(x, probe);
}

/** Hook specs in their list form (so that several hooks can share a point, in order). */
export function hookList(spec: HookSpec | undefined): Array<[string | RegExp, (x: tf.Tensor, name: string) => tf.Tensor | void]> {
  return spec == null ? [] : Array.isArray(spec) ? spec.slice() : Object.entries(spec);
}

export interface HookGradients {
  /** The metric's value. */
  value: number;
  /** Activation at each named hook point (after the given hooks), owned by the caller. */
  acts: Map<string, tf.Tensor>;
  /** dMetric/dActivation at each named hook point, same shape, owned by the caller. */
  grads: Map<string, tf.Tensor>;
  dispose(): void;
}

/**
 * Backward hooks: run tokens through the model (with `opts.hooks` applied first), take the scalar
 * metric(logits), and return the activation and the gradient of the metric at each hook point in
 * `names`. A name no gradient reaches (the metric does not depend on it) gets zeros.
 */
export function hookGradients(
  model: LanguageModel,
  tokens: tf.Tensor2D,
  names: readonly string[],
  metric: (logits: tf.Tensor3D) => tf.Scalar,
  opts: ForwardOptions = {},
): HookGradients {
  const known = new Set(model.hookPoints());
  for (const n of names)
    if (!known.has(n))
      throw new GroundlabError('NOT_FOUND', `"${n}" is not a hook point of this model`, {
        hint: `hook points look like ${[...known].slice(0, 6).join(', ')} (model.hookPoints() lists all)`,
      });
  const acts = new Map<string, tf.Tensor>();
  const grads = new Map<string, tf.Tensor>();
  let value = NaN;
  const f = (probe: tf.Tensor) => {
    const list = hookList(opts.hooks);
    for (const name of names) {
      const ident = recordingIdentity((x, dy) => {
        grads.get(name)?.dispose();
        grads.set(name, tf.keep(dy.clone()));
      });
      list.push([
        name,
        (x) => {
          acts.get(name)?.dispose();
          acts.set(name, tf.keep(x.clone()));
          return ident(x, probe);
        },
      ]);
    }
    const m = metric(model.forward(tokens, { ...opts, hooks: list }));
    value = m.dataSync()[0];
    return m;
  };
  const probe = tf.scalar(0);
  tf.grad(f)(probe).dispose();
  probe.dispose();
  for (const n of names) {
    const a = acts.get(n);
    if (!a)
      throw new GroundlabError('INTERNAL', `the forward pass never reached hook point ${n}`, {
        hint: 'the model must run every hook point it lists',
      });
    if (!grads.has(n)) grads.set(n, tf.zerosLike(a));
  }
  return { value, acts, grads, dispose: () => [...acts.values(), ...grads.values()].forEach((t) => t.dispose()) };
}
