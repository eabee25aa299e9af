/**
 * Model configs (one typed interface per architecture, defaults in one place) and the presets
 * `tiny` (tests), `quick` (a laptop) and `paper` (the paper's scale; needs tfjs-node or -gpu).
 */
import { GroundlabError } from '../errors';
import type { Arch, BaseModelConfig } from './types';

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
}

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

export interface LstmConfig extends BaseModelConfig {
  arch: 'lstm';
  /** Add each layer's input to its output (the paper's open check 2). */
  residual: boolean;
  /** A final LayerNorm before the unembedding (`ln_final.hook_normalized`). */
  finalNorm: boolean;
  tiedEmbeddings: boolean;
  initStd: number;
  fused: boolean;
}

export type ModelConfig = TransformerConfig | Mamba2Config | LstmConfig;
export type PresetName = 'tiny' | 'quick' | 'paper';
export const PRESET_NAMES: readonly PresetName[] = ['tiny', 'quick', 'paper'];
export const ARCHS: readonly Arch[] = ['transformer', 'mamba2', 'lstm'];

type Sizes<C> = Omit<C, 'vocabSize'>;

/** Defaults shared by every preset of an architecture (sizes come from the preset). */
const TRANSFORMER_DEFAULTS = { arch: 'transformer', tiedEmbeddings: true, lnEps: 1e-5, initStd: 0.02, fused: true, envFeatureDim: 0 } as const;
const MAMBA2_DEFAULTS = {
  arch: 'mamba2', expand: 2, convKernel: 4, tiedEmbeddings: true, normEps: 1e-5, initStd: 0.02, dtMin: 0.001, dtMax: 0.1, fused: true, envFeatureDim: 0,
} as const;
const LSTM_DEFAULTS = { arch: 'lstm', residual: false, finalNorm: true, tiedEmbeddings: false, initStd: 0.02, fused: true, envFeatureDim: 0 } as const;

/**
 * The presets as data (vocabSize is supplied by the corpus). `paper` gives the 12-layer
 * Transformer / 12-layer Mamba-2 / 4-layer LSTM; the paper's 4- and 18-layer Transformers and
 * 4-layer Mamba-2 are `{ nLayers: 4 | 18 }` overrides (CLI: --model.nLayers 18).
 */
export const MODEL_PRESETS: {
  transformer: Record<PresetName, Sizes<TransformerConfig>>;
  mamba2: Record<PresetName, Sizes<Mamba2Config>>;
  lstm: Record<PresetName, Sizes<LstmConfig>>;
} = {
  transformer: {
    tiny: { ...TRANSFORMER_DEFAULTS, contextLength: 32, dModel: 32, nLayers: 2, nHeads: 2, dMlp: 128 },
    quick: { ...TRANSFORMER_DEFAULTS, contextLength: 64, dModel: 128, nLayers: 4, nHeads: 4, dMlp: 512 },
    paper: { ...TRANSFORMER_DEFAULTS, contextLength: 512, dModel: 768, nLayers: 12, nHeads: 12, dMlp: 3072 },
  },
  mamba2: {
    tiny: { ...MAMBA2_DEFAULTS, contextLength: 32, dModel: 32, nLayers: 2, dState: 16, headDim: 16 },
    quick: { ...MAMBA2_DEFAULTS, contextLength: 64, dModel: 128, nLayers: 4, dState: 32, headDim: 32 },
    paper: { ...MAMBA2_DEFAULTS, contextLength: 512, dModel: 768, nLayers: 12, dState: 64, headDim: 64 },
  },
  lstm: {
    tiny: { ...LSTM_DEFAULTS, contextLength: 32, dModel: 32, nLayers: 2 },
    quick: { ...LSTM_DEFAULTS, contextLength: 64, dModel: 128, nLayers: 2 },
    paper: { ...LSTM_DEFAULTS, contextLength: 512, dModel: 768, nLayers: 4 },
  },
};

function bad(message: string, hint?: string): GroundlabError {
  return new GroundlabError('BAD_CONFIG', message, { hint });
}

/** A preset's config for a vocabulary, with overrides on top (validated). */
export function modelPreset(arch: Arch, preset: PresetName, vocabSize: number, overrides: Partial<ModelConfig> = {}): ModelConfig {
  const table = (MODEL_PRESETS as Record<string, Record<string, object>>)[arch];
  if (!table) throw new GroundlabError('BAD_ARGUMENT', `unknown architecture "${arch}"`, { hint: `use one of: ${ARCHS.join(', ')}` });
  const base = table[preset];
  if (!base) throw new GroundlabError('BAD_ARGUMENT', `unknown preset "${preset}"`, { hint: `use one of: ${PRESET_NAMES.join(', ')}` });
  if (overrides.arch != null && overrides.arch !== arch) throw bad(`override arch "${overrides.arch}" does not match "${arch}"`);
  return validateConfig({ ...base, ...overrides, arch, vocabSize } as ModelConfig);
}

/** Fill missing fields from the architecture's defaults (e.g. a config.json from an older run) and validate. */
export function resolveConfig(c: Partial<ModelConfig> & { arch: Arch; vocabSize: number }): ModelConfig {
  const defaults = c.arch === 'transformer' ? TRANSFORMER_DEFAULTS : c.arch === 'mamba2' ? MAMBA2_DEFAULTS : c.arch === 'lstm' ? LSTM_DEFAULTS : undefined;
  if (!defaults) throw bad(`unknown architecture "${c.arch}"`, `use one of: ${ARCHS.join(', ')}`);
  return validateConfig({ ...defaults, ...c } as ModelConfig);
}

function posInt(c: object, key: string): void {
  const v = (c as Record<string, unknown>)[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw bad(`model config field ${key} must be a positive integer (got ${JSON.stringify(v)})`);
}

/** Check a config's fields; returns it. */
export function validateConfig<C extends ModelConfig>(c: C): C {
  for (const k of ['vocabSize', 'contextLength', 'dModel', 'nLayers']) posInt(c, k);
  if (!Number.isInteger(c.envFeatureDim) || c.envFeatureDim < 0) throw bad(`envFeatureDim must be a non-negative integer (got ${c.envFeatureDim})`);
  if (c.arch === 'transformer') {
    posInt(c, 'nHeads');
    posInt(c, 'dMlp');
    if (c.dModel % c.nHeads !== 0) throw bad(`dModel ${c.dModel} is not divisible by nHeads ${c.nHeads}`, 'pick nHeads so that dModel / nHeads is a whole head size');
  } else if (c.arch === 'mamba2') {
    for (const k of ['dState', 'headDim', 'expand', 'convKernel']) posInt(c, k);
    if ((c.expand * c.dModel) % c.headDim !== 0) throw bad(`expand x dModel = ${c.expand * c.dModel} is not divisible by headDim ${c.headDim}`);
    if (!(c.dtMin > 0 && c.dtMax >= c.dtMin)) throw bad(`need 0 < dtMin <= dtMax (got ${c.dtMin}, ${c.dtMax})`);
  } else if (c.arch !== 'lstm') {
    throw bad(`unknown architecture "${(c as { arch: string }).arch}"`, `use one of: ${ARCHS.join(', ')}`);
  }
  return c;
}
