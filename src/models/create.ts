/**
 * `createModel(config, seed)`: build any registered architecture from its config, with seeded
 * initialisation; parameter shapes and counts without allocating anything.
 */
import { paramCount } from './base';
import { resolveConfig, type ModelConfig } from './config';
import { adapterFor } from './registry';
import type { LanguageModel, ModelAnatomy } from './types';

/** Build a model (the engine must be started: `await initEngine()`). Missing config fields take the defaults. */
export function createModel(config: ModelConfig, seed: number): LanguageModel<ModelConfig> {
  const c = resolveConfig(config);
  return adapterFor(c.arch).create(c, seed) as LanguageModel<ModelConfig>;
}

/** Parameter names and shapes a config produces, without allocating anything. */
export function modelParamShapes(config: ModelConfig): Array<{ name: string; shape: number[] }> {
  const c = resolveConfig(config);
  return adapterFor(c.arch)
    .paramSpecs(c)
    .map(({ name, shape }) => ({ name, shape }));
}

/** Number of trainable parameters a config produces (tied embeddings counted once). */
export function countParams(config: ModelConfig): number {
  const c = resolveConfig(config);
  return paramCount(adapterFor(c.arch).paramSpecs(c));
}

/** The anatomy (hook points, head and mixing sites, lens inputs) a config produces, without building the model. */
export function modelAnatomy(config: ModelConfig): ModelAnatomy {
  const c = resolveConfig(config);
  return adapterFor(c.arch).anatomy(c);
}
