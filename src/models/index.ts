// The models stage's public API.
export * from './types';
export * from './config';
export { createModel, modelParamShapes, countParams } from './create';
export { Transformer, transformerParamSpecs } from './transformer';
export { Mamba2, mamba2ParamSpecs, ssdQuadratic, ssdRecurrent } from './mamba2';
export { Lstm, lstmParamSpecs } from './lstm';
export { HookRunner, TensorCache } from './hooks';
export { paramCount, type ParamSpec, type Init } from './base';
export { timeTrainSteps, type StepTiming, type TimeStepOptions } from './speed';
