/**
 * `createModel(config, seed)`: build any architecture from its config, with seeded initialisation.
 */
import { GroundlabError } from '../errors';
import { paramCount, type ParamSpec } from './base';
import { resolveConfig, type ModelConfig } from './config';
import { Transformer, transformerParamSpecs } from './transformer';
import { Mamba2, mamba2ParamSpecs } from './mamba2';
import { Lstm, lstmParamSpecs } from './lstm';
import type { LanguageModel } from './types';

/** Build a model (the engine must be started: `await initEngine()`). Missing config fields take the defaults. */
export function createModel(config: ModelConfig, seed: number): LanguageModel<ModelConfig> {
  const c = resolveConfig(config);
  switch (c.arch) {
    case 'transformer':
      return new Transformer(c, seed) as LanguageModel<ModelConfig>;
    case 'mamba2':
      return new Mamba2(c, seed) as LanguageModel<ModelConfig>;
    case 'lstm':
      return new Lstm(c, seed) as LanguageModel<ModelConfig>;
  }
  throw new GroundlabError('BAD_CONFIG', `unknown architecture "${(c as { arch: string }).arch}"`);
}

/** Parameter names and shapes a config produces, without allocating anything. */
export function modelParamShapes(config: ModelConfig): Array<{ name: string; shape: number[] }> {
  return specsOf(resolveConfig(config)).map(({ name, shape }) => ({ name, shape }));
}

/** Number of trainable parameters a config produces (tied embeddings counted once). */
export function countParams(config: ModelConfig): number {
  return paramCount(specsOf(resolveConfig(config)));
}

function specsOf(c: ModelConfig): ParamSpec[] {
  return c.arch === 'transformer' ? transformerParamSpecs(c) : c.arch === 'mamba2' ? mamba2ParamSpecs(c) : lstmParamSpecs(c);
}
