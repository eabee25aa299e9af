/**
 * What the trainer needs from the models and data stages, as one small interface. The default
 * implementation uses src/models (createModel, modelPreset) and src/data (prepareData,
 * WordTokenizer); tests and experiments may pass their own (e.g. a toy model or a fixed dataset).
 */
import { GroundlabError } from '../errors';
import type { Arch, BaseModelConfig, LanguageModel } from '../models/types';
import type { CorpusSpec, TokenDataset, Tokenizer } from '../data/types';
import type { PresetName } from './presets';

/** A model config as stored in config.json: the base fields plus the architecture's own. */
export type AnyModelConfig = BaseModelConfig & { [key: string]: unknown };

/** What training and runs use of the data stage's PreparedData. */
export interface TrainingData {
  tokenizer: Tokenizer;
  train: TokenDataset;
  [key: string]: unknown;
}

export interface TrainDeps {
  createModel(config: AnyModelConfig, seed: number): LanguageModel;
  modelPreset(arch: Arch, preset: PresetName, vocabSize: number, overrides?: Record<string, unknown>): AnyModelConfig;
  /** `tokenizer`: tokenize with it instead of the corpus's own (imported runs). */
  prepareData(spec: CorpusSpec, opts: { seqLen: number; tokenizer?: Tokenizer }): Promise<TrainingData>;
  tokenizerFromJSON(json: unknown): Tokenizer;
}

function stage(name: 'models' | 'data'): Record<string, unknown> {
  // Required lazily so that the io/train stages load even in a build without these stages.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return name === 'models' ? require('../models') : require('../data');
}

function need<T>(mod: 'models' | 'data', fn: string): T {
  const f = stage(mod)[fn];
  if (f === undefined) {
    throw new GroundlabError('UNSUPPORTED', `src/${mod} does not provide ${fn} in this build`, {
      hint: 'update groundlab; the training stage needs it',
    });
  }
  return f as T;
}

/** The registered architectures (src/models/registry.ts), read lazily like the rest of the models stage. */
export function knownArchs(): readonly string[] {
  return need<readonly string[]>('models', 'ARCHS');
}

/**
 * Why a model config cannot be written in a Hugging Face format (undefined: it can), as its
 * architecture's adapter says (src/models/<arch>.ts, field `hf`).
 */
export function hfExportProblem(c: AnyModelConfig, format: 'hf-gpt2'): string | undefined {
  type Hf = { title: string; hf?: { format: string; unsupported(c: unknown): string | undefined } };
  const ad = need<(arch: string) => Hf>('models', 'adapterFor')(c.arch);
  if (!ad.hf || ad.hf.format !== format) return `the ${ad.title} has no ${format} mapping`;
  return ad.hf.unsupported(need<(c: unknown) => unknown>('models', 'resolveConfig')(c));
}

/** The trainer's default dependencies: the real models and data stages. */
export const defaultDeps: TrainDeps = {
  createModel: (config, seed) => need<TrainDeps['createModel']>('models', 'createModel')(config, seed),
  modelPreset: (arch, preset, vocabSize, overrides) =>
    need<TrainDeps['modelPreset']>('models', 'modelPreset')(arch, preset, vocabSize, overrides),
  prepareData: (spec, opts) => need<TrainDeps['prepareData']>('data', 'prepareData')(spec, opts),
  tokenizerFromJSON: (json) => need<(j: unknown) => Tokenizer>('data', 'tokenizerFromJSON')(json),
};

export function withDefaults(deps?: Partial<TrainDeps>): TrainDeps {
  return { ...defaultDeps, ...(deps ?? {}) };
}
