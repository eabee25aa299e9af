/**
 * Hook points (TransformerLens style): every architecture passes its named activations through
 * `HookRunner.at(name, x)`, which runs the user's hooks (read or replace) and records the value
 * for `runWithCache`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import type { ActivationCache, HookFn, HookSpec } from './types';

type Matcher = string | RegExp;

function matches(m: Matcher, name: string): boolean {
  return typeof m === 'string' ? m === name : ((m.lastIndex = 0), m.test(name));
}

export class HookRunner {
  private readonly hooks: Array<[Matcher, HookFn]>;
  private readonly capture: Matcher[];
  /** Values recorded for the cache (after any replacement), by name. */
  readonly recorded = new Map<string, tf.Tensor>();

  constructor(spec: HookSpec | undefined, capture: Matcher[] | undefined, points: readonly string[]) {
    this.hooks = spec == null ? [] : Array.isArray(spec) ? spec : Object.entries(spec);
    this.capture = capture ?? [];
    const known = new Set(points);
    for (const [m] of this.hooks) {
      if (typeof m === 'string' && !known.has(m)) throw unknownHook(m, points);
    }
    for (const m of this.capture) {
      if (typeof m === 'string' && !known.has(m)) throw unknownHook(m, points);
    }
  }

  /** Whether a hook or the cache wants this point (so the model must materialise it). */
  wants(name: string): boolean {
    return this.hooks.some(([m]) => matches(m, name)) || this.capture.some((m) => matches(m, name));
  }

  /** Whether anything wants any of these points. */
  wantsAny(names: string[]): boolean {
    return names.some((n) => this.wants(n));
  }

  /** Run the hooks at `name` on x (a replacement must keep x's shape), record it, return the value. */
  at<R extends tf.Tensor>(name: string, x: R): R {
    let v: tf.Tensor = x;
    for (const [m, fn] of this.hooks) {
      if (!matches(m, name)) continue;
      const r = fn(v, name);
      if (r != null) {
        if (!tf.util.arraysEqual(r.shape, v.shape)) {
          throw new GroundlabError(
            'BAD_ARGUMENT',
            `the hook at ${name} returned shape [${r.shape}] for an activation of shape [${v.shape}]`,
            {
              hint: 'a hook must return a tensor of the same shape (or nothing, to only read)',
            },
          );
        }
        v = r;
      }
    }
    if (this.capture.some((m) => matches(m, name))) this.recorded.set(name, v);
    return v as R;
  }
}

function unknownHook(name: string, points: readonly string[]): GroundlabError {
  const near = points.filter((p) => p.endsWith(name.split('.').pop() ?? '')).slice(0, 6);
  return new GroundlabError('NOT_FOUND', `"${name}" is not a hook point of this model`, {
    hint: `hook points look like ${(near.length ? near : points.slice(0, 6)).join(', ')} (model.hookPoints() lists all ${points.length})`,
  });
}

/** The activations recorded by `runWithCache`; owns its tensors. */
export class TensorCache implements ActivationCache {
  private readonly map: Map<string, tf.Tensor>;
  constructor(entries: Array<[string, tf.Tensor]>) {
    this.map = new Map(entries);
  }
  get names(): string[] {
    return [...this.map.keys()];
  }
  get(name: string): tf.Tensor {
    const t = this.map.get(name);
    if (!t) {
      throw new GroundlabError('NOT_FOUND', `the cache has no activation "${name}"`, {
        hint: `cached names: ${this.names.slice(0, 8).join(', ')}${this.names.length > 8 ? `, ... (${this.names.length})` : ''}`,
      });
    }
    return t;
  }
  has(name: string): boolean {
    return this.map.has(name);
  }
  dispose(): void {
    const seen = new Set<number>();
    for (const t of this.map.values()) {
      if (!seen.has(t.id)) t.dispose();
      seen.add(t.id);
    }
    this.map.clear();
  }
}
