/**
 * Hook points (TransformerLens style): every architecture passes its named activations through
 * `HookRunner.at(name, x)`, which runs the user's hooks (read or replace) and records the value
 * for `runWithCache`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import type { ActivationCache, HookFn, HookSpec, ModelAnatomy, ResidStack } from './types';

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

/** TransformerLens short names that groundlab spells another way. */
const SHORT_ALIASES: Record<string, string> = { attn: 'pattern', scores: 'attn_scores' };

/**
 * The hook point a TransformerLens-style short name stands for (`utils.get_act_name`), read
 * from the model's anatomy, never from its architecture's name:
 * - a full hook point name is itself (`blocks.1.attn.hook_pattern`);
 * - without a layer: `embed` -> `hook_embed`, `pos_embed` -> `hook_pos_embed`, `ln_final.normalized`
 *   -> `ln_final.hook_normalized` (the model's top-level `hook_<name>` points);
 * - with a layer (negative: from the end): `pattern` (alias `attn`) is the layer's token-mixing
 *   matrix (`anatomy.layers[l].mixing`: attention, Mamba-2's SSD or GLA), `resid_pre` / `resid_post`
 *   its residual streams; any other name is the one hook point of `blocks.{l}.` whose last part is
 *   `hook_<name>` (`q`, `k`, `v`, `z`, `attn_scores` (alias `scores`), `attn_out`, `resid_mid`, `pre`,
 *   `post`, `mlp_out`, `mixer_out`, `h`, `c`, ...); a name with a dot picks a sub-module
 *   (`ln1.normalized` -> `blocks.{l}.ln1.hook_normalized`). An ambiguous or unknown name is a
 *   GroundlabError listing what the layer has.
 */
export function actName(anatomy: ModelAnatomy, name: string, layer?: number): string {
  const points = anatomy.hookPoints;
  if (layer === undefined) {
    if (points.includes(name)) return name;
    const dot = name.lastIndexOf('.');
    const top = dot < 0 ? `hook_${name}` : `${name.slice(0, dot)}.hook_${name.slice(dot + 1).replace(/^hook_/, '')}`;
    if (points.includes(top)) return top;
    throw new GroundlabError('NOT_FOUND', `"${name}" is neither a hook point of this model nor a short name without a layer`, {
      hint: `give a layer (get("${name}", 0)) or one of: ${points.filter((p) => !p.startsWith('blocks.')).join(', ')}`,
    });
  }
  const L = anatomy.layers.length;
  if (!Number.isInteger(layer) || layer >= L || layer < -L)
    throw new GroundlabError(
      'BAD_ARGUMENT',
      `layer ${layer} is out of range: the model has layers 0..${L - 1} (negative counts from the end)`,
    );
  const l = layer < 0 ? L + layer : layer;
  const la = anatomy.layers[l];
  const short = SHORT_ALIASES[name] ?? name.replace(/^hook_/, '');
  const prefix = `blocks.${l}.`;
  const mine = points.filter((p) => p.startsWith(prefix));
  const none = (why: string) =>
    new GroundlabError('NOT_FOUND', `layer ${l} has no "${name}" ${why}`, {
      hint: `its hook points: ${mine.map((p) => p.slice(prefix.length)).join(', ')} (short names drop "hook_")`,
    });
  if (short === 'pattern') {
    if (!la.mixing) throw none('(it mixes no tokens through a matrix)');
    return la.mixing.hook;
  }
  if (short === 'resid_pre') {
    if (!la.residPre) throw none('(its anatomy has no residual stream entering the block)');
    return la.residPre;
  }
  if (short === 'resid_post') return la.residPost;
  const dot = short.lastIndexOf('.');
  const want = dot < 0 ? `hook_${short}` : `${short.slice(0, dot)}.hook_${short.slice(dot + 1).replace(/^hook_/, '')}`;
  const hits = mine.filter((p) => p === prefix + want || (dot < 0 && p.endsWith('.' + want)));
  if (hits.length === 1) return hits[0];
  if (hits.length === 0) throw none('');
  throw new GroundlabError('BAD_ARGUMENT', `"${name}" is ambiguous in layer ${l}: ${hits.join(', ')}`, {
    hint: `name the sub-module, e.g. "${hits[0].slice(prefix.length).replace('.hook_', '.')}"`,
  });
}

/**
 * The residual-stream anatomy the cache accessors read: the stream entering each layer, what
 * each layer adds to it and the embeddings. A layer's writes are its direct `blocks.{l}.hook_*_out`
 * points (the attention and MLP outputs, Mamba-2's mixer output), the embeddings the model's
 * top-level `hook_*embed` points; a model whose layers have no `residPre` (LSTM, GRU) has no
 * additive residual stream to decompose.
 */
function residualParts(anatomy: ModelAnatomy): { embeds: string[]; writes: string[][] } {
  const pts = anatomy.hookPoints;
  const first = pts.findIndex((p) => p.startsWith('blocks.'));
  const embeds = pts.slice(0, first < 0 ? pts.length : first).filter((p) => /^hook_(\w+_)?embed$/.test(p));
  const writes = anatomy.layers.map((_, l) => pts.filter((p) => new RegExp(`^blocks\\.${l}\\.hook_\\w+_out$`).test(p)));
  return { embeds, writes };
}

const shortOf = (hook: string) => hook.replace(/^blocks\.\d+\./, '').replace(/^hook_/, '');

/** The activations recorded by `runWithCache`; owns its tensors. */
export class TensorCache implements ActivationCache {
  private readonly map: Map<string, tf.Tensor>;
  /** entries in forward order; `anatomy` (the model's) enables short names and the residual accessors. */
  constructor(
    entries: Array<[string, tf.Tensor]>,
    private readonly anatomy?: ModelAnatomy,
  ) {
    this.map = new Map(entries);
  }
  get names(): string[] {
    return [...this.map.keys()];
  }
  private resolve(name: string, layer?: number): string {
    if (layer === undefined && this.map.has(name)) return name;
    if (!this.anatomy)
      throw new GroundlabError('NOT_FOUND', `the cache has no activation "${name}"${layer === undefined ? '' : ` (layer ${layer})`}`, {
        hint: 'this cache was built without the model anatomy, so short names are unknown: give a full hook point name',
      });
    return actName(this.anatomy, name, layer);
  }
  get(name: string, layer?: number): tf.Tensor {
    const full = this.resolve(name, layer);
    const t = this.map.get(full);
    if (!t) {
      throw new GroundlabError('NOT_FOUND', `the cache has no activation "${full}"${full === name ? '' : ` (${name}, layer ${layer})`}`, {
        hint: `cached names: ${this.names.slice(0, 8).join(', ')}${this.names.length > 8 ? `, ... (${this.names.length})` : ''}${
          this.anatomy?.hookPoints.includes(full) ? '; runWithCache records it when `names` is left out or includes it' : ''
        }`,
      });
    }
    return t;
  }
  has(name: string, layer?: number): boolean {
    try {
      return this.map.has(this.resolve(name, layer));
    } catch {
      return false;
    }
  }
  private needAnatomy(what: string): ModelAnatomy {
    if (!this.anatomy)
      throw new GroundlabError('UNSUPPORTED', `${what} needs the model's anatomy, which this cache was built without`, {
        hint: "build the cache with new TensorCache(entries, model.anatomy) (every groundlab model's runWithCache does)",
      });
    return this.anatomy;
  }
  /** Layer argument of the residual accessors: undefined or -1 = every layer (L), else 0..L. */
  private stopLayer(layer: number | undefined, L: number): number {
    if (layer === undefined || layer === -1) return L;
    if (!Number.isInteger(layer) || layer < 0 || layer > L)
      throw new GroundlabError('BAD_ARGUMENT', `layer ${layer} is out of range: give 0..${L} (${L} or -1: after the last layer)`);
    return layer;
  }
  private stack(labels: string[], hooks: string[]): ResidStack {
    const ts = hooks.map((h) => this.get(h));
    return { labels, hooks, resid: tf.tidy(() => tf.stack(ts) as tf.Tensor4D) };
  }
  accumulatedResid(layer?: number, opts: { incMid?: boolean; mlpInput?: boolean } = {}): ResidStack {
    const an = this.needAnatomy('accumulatedResid');
    const L = an.layers.length;
    const stop = this.stopLayer(layer, L);
    const labels: string[] = [];
    const hooks: string[] = [];
    for (let l = 0; l <= stop; l++) {
      if (l === L) {
        labels.push('final_post');
        hooks.push(an.layers[L - 1].residPost);
        continue;
      }
      labels.push(`${l}_pre`);
      hooks.push(an.layers[l].residPre ?? (l === 0 ? an.lens.input : an.layers[l - 1].residPost));
      if ((opts.incMid && l < stop) || (opts.mlpInput && l === stop)) {
        labels.push(`${l}_mid`);
        hooks.push(actName(an, 'resid_mid', l));
      }
    }
    return this.stack(labels, hooks);
  }
  decomposeResid(layer?: number, opts: { mlpInput?: boolean; incEmbeds?: boolean } = {}): ResidStack {
    const an = this.needAnatomy('decomposeResid');
    if (an.layers.some((la) => !la.residPre))
      throw new GroundlabError('UNSUPPORTED', 'this model has no additive residual stream to decompose (its layers declare no resid_pre)', {
        hint: 'decomposeResid works for Transformer-like models (Transformer, GLA, Mamba-2); accumulatedResid works for every model',
      });
    const L = an.layers.length;
    const stop = this.stopLayer(layer, L);
    const { embeds, writes } = residualParts(an);
    if (opts.mlpInput && stop === L) throw new GroundlabError('BAD_ARGUMENT', 'mlpInput needs a layer below the last (its resid_mid)');
    const hooks = [...(opts.incEmbeds === false ? [] : embeds)];
    for (let l = 0; l < stop; l++) hooks.push(...writes[l]);
    if (opts.mlpInput) hooks.push(writes[stop][0]);
    const labels = hooks.map((h) => {
      const m = /^blocks\.(\d+)\./.exec(h);
      return m ? `${m[1]}_${shortOf(h)}` : shortOf(h);
    });
    return this.stack(labels, hooks);
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
