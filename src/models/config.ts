/**
 * Model configs: one typed interface per architecture (declared with its adapter in
 * src/models/<arch>.ts, defaults and presets there), and the functions that build, fill in and
 * check a config for any registered architecture. Presets: `tiny` (tests), `quick` (a laptop),
 * `paper` (the paper's scale; needs tfjs-node or -gpu).
 */
import { GroundlabError } from '../errors';
import { badConfig, PRESET_NAMES, type PresetName, type Sizes } from './adapter';
import { ADAPTERS, ARCHS, adapterFor } from './registry';
import type { Arch } from './types';
import type { TransformerConfig } from './transformer';
import type { Mamba2Config } from './mamba2';
import type { LstmConfig } from './lstm';
import type { GruConfig } from './gru';
import type { GlaConfig } from './gla';

export type { TransformerConfig } from './transformer';
export type { Mamba2Config } from './mamba2';
export type { LstmConfig } from './lstm';
export type { GruConfig } from './gru';
export type { GlaConfig } from './gla';
export { PRESET_NAMES, type PresetName } from './adapter';
export { ARCHS } from './registry';

export type ModelConfig = TransformerConfig | Mamba2Config | LstmConfig | GruConfig | GlaConfig;

/**
 * The presets as data, by architecture (vocabSize is supplied by the corpus). `paper` gives the
 * 12-layer Transformer / 12-layer Mamba-2 / 4-layer LSTM; the paper's 4- and 18-layer
 * Transformers and 4-layer Mamba-2 are `{ nLayers: 4 | 18 }` overrides (CLI: --model nLayers=18).
 */
export const MODEL_PRESETS = Object.fromEntries(ARCHS.map((a) => [a, ADAPTERS[a].presets])) as unknown as {
  readonly [A in Arch]: Record<PresetName, Sizes<Extract<ModelConfig, { arch: A }>>>;
};

/** A preset's config for a vocabulary, with overrides on top (validated). */
export function modelPreset(arch: Arch, preset: PresetName, vocabSize: number, overrides: Partial<ModelConfig> = {}): ModelConfig {
  const ad = adapterFor(arch);
  const base = (ad.presets as Record<string, object>)[preset];
  if (!base) throw new GroundlabError('BAD_ARGUMENT', `unknown preset "${preset}"`, { hint: `use one of: ${PRESET_NAMES.join(', ')}` });
  if (overrides.arch != null && overrides.arch !== arch) throw badConfig(`override arch "${overrides.arch}" does not match "${arch}"`);
  return validateConfig({ ...base, ...overrides, arch, vocabSize } as ModelConfig);
}

/** Fill missing fields from the architecture's defaults (e.g. a config.json from an older run) and validate. */
export function resolveConfig(c: Partial<ModelConfig> & { arch: Arch; vocabSize: number }): ModelConfig {
  const ad = adapterFor(c.arch);
  return validateConfig({ ...ad.defaults, ...c } as ModelConfig);
}

/** Check a config's fields (the shared ones here, the architecture's own in its adapter); returns it. */
export function validateConfig<C extends ModelConfig>(c: C): C {
  const ad = adapterFor(c.arch);
  for (const k of ['vocabSize', 'contextLength', 'dModel', 'nLayers']) {
    const v = (c as unknown as Record<string, unknown>)[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw badConfig(`model config field ${k} must be a positive integer (got ${JSON.stringify(v)})`);
  }
  if (!Number.isInteger(c.envFeatureDim) || c.envFeatureDim < 0)
    throw badConfig(`envFeatureDim must be a non-negative integer (got ${c.envFeatureDim})`);
  return ad.validate(c) as C;
}
