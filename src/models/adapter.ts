/**
 * An architecture as data. Each architecture declares, in its own file (src/models/<arch>.ts),
 * one `ArchAdapter`: its defaults and presets, how its config is checked, its parameter names and
 * shapes, its anatomy (hook points; which hook holds per-head or per-unit outputs, along which
 * axis and how many; its token-mixing pattern hook; what the lenses read) and how to build it.
 * src/models/registry.ts lists the adapters; everything outside src/models reads them.
 */
import { GroundlabError } from '../errors';
import type { ParamSpec } from './base';
import type { BaseModelConfig, LanguageModel, ModelAnatomy } from './types';

/**
 * The preset names, in order of cost; one place for models (sizes, in each adapter) and training
 * (src/train/presets.ts). `medium` is the deepest that trains on one CPU core in about an hour.
 */
export type PresetName = 'tiny' | 'quick' | 'medium' | 'paper';
export const PRESET_NAMES: readonly PresetName[] = ['tiny', 'quick', 'medium', 'paper'];

/** A preset's fields: the config without the vocabulary (the corpus supplies it). */
export type Sizes<C> = Omit<C, 'vocabSize'>;

export interface ArchAdapter<C extends BaseModelConfig = BaseModelConfig> {
  readonly arch: C['arch'];
  /** Human name, e.g. "Transformer (GPT-2 style)". */
  readonly title: string;
  /** One line: what the architecture is. */
  readonly summary: string;
  /** Defaults every preset shares; missing fields of a stored config are filled from them. */
  readonly defaults: Partial<C>;
  readonly presets: Record<PresetName, Sizes<C>>;
  /** Architecture-specific checks and normalisation (e.g. a per-layer switch given once); throws BAD_CONFIG. */
  validate(c: C): C;
  /** Parameter names and shapes, in a stable order (each with its initialisation). */
  paramSpecs(c: C): ParamSpec[];
  anatomy(c: C): ModelAnatomy;
  create(c: C, seed: number): LanguageModel<C>;
  /**
   * The Hugging Face format this architecture exports to, with the reason a given config cannot
   * be exported (undefined: it can). Absent: no Hugging Face mapping.
   */
  readonly hf?: { format: 'hf-gpt2'; unsupported(c: C): string | undefined };
}

/**
 * An architecture's presets: each preset's sizes on top of the defaults every preset shares
 * (`{ ...defaults, ...sizes }`, in PRESET_NAMES order).
 */
export function presetsFrom<D extends object, S extends object>(
  defaults: D,
  sizes: Record<PresetName, S>,
): Record<PresetName, Omit<D, keyof S> & S> {
  const out = {} as Record<PresetName, Omit<D, keyof S> & S>;
  for (const name of PRESET_NAMES) out[name] = { ...defaults, ...sizes[name] };
  return out;
}

export function badConfig(message: string, hint?: string): GroundlabError {
  return new GroundlabError('BAD_CONFIG', message, { hint });
}

/** Throws BAD_CONFIG unless c[key] is a positive integer. */
export function posInt(c: object, key: string): void {
  const v = (c as Record<string, unknown>)[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw badConfig(`model config field ${key} must be a positive integer (got ${JSON.stringify(v)})`);
}

/**
 * A per-layer switch: one value for every layer, or one value per layer. From the command line a
 * per-layer list is written with `/` between layers (`--model mixing=none/none/softmax/none`).
 */
export type PerLayer<T extends string> = T | T[];

/** Resolve a per-layer switch to one value per layer (throws BAD_CONFIG naming the field). */
export function perLayer<T extends string>(
  v: PerLayer<T> | string | undefined,
  field: string,
  allowed: readonly T[],
  nLayers: number,
  fallback: T,
): T[] {
  const list =
    v === undefined
      ? [fallback]
      : Array.isArray(v)
        ? v
        : String(v)
            .split('/')
            .map((s) => s.trim());
  const vals = list.length === 1 ? new Array<string>(nLayers).fill(list[0]) : list;
  if (vals.length !== nLayers) {
    throw badConfig(
      `model config field ${field} lists ${vals.length} layers, the model has ${nLayers}`,
      `give one value for every layer or one per layer, e.g. ${field}=${new Array(nLayers).fill(allowed[0]).join('/')}`,
    );
  }
  for (const x of vals) {
    if (!allowed.includes(x as T)) throw badConfig(`model config field ${field}: "${x}" is not one of ${allowed.join(', ')}`);
  }
  return vals as T[];
}

/** Stored form of a per-layer switch: one value when all layers agree, else the list. */
export function compactPerLayer<T extends string>(vals: T[]): PerLayer<T> {
  return vals.every((x) => x === vals[0]) ? vals[0] : vals;
}
