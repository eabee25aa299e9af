// The models stage's public API.
export * from './types';
export * from './config';
export { ADAPTERS, adapterFor, isArch } from './registry';
export { type ArchAdapter, type PerLayer, perLayer } from './adapter';
export { createModel, modelParamShapes, countParams, modelAnatomy } from './create';
export {
  Transformer,
  transformerParamSpecs,
  transformerAdapter,
  layerSwitches,
  MIXINGS,
  POSITIONALS,
  SIMILARITIES,
  QK_FROM,
} from './transformer';
export { Mamba2, mamba2ParamSpecs, mamba2Adapter, ssdQuadratic, ssdRecurrent } from './mamba2';
export { Lstm, lstmParamSpecs, lstmAdapter } from './lstm';
export { Gru, gruParamSpecs, gruAdapter } from './gru';
export { Gla, glaParamSpecs, glaAdapter, glaDims } from './gla';
export { HookRunner, TensorCache, actName } from './hooks';
export { paramCount, type ParamSpec, type Init } from './base';
export { timeTrainSteps, type StepTiming, type TimeStepOptions } from './speed';
