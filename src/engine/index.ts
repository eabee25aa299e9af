export * from './backend';
export * from './rng';
export * from './ops';
export * from './ops-kernels';
export * from './ops-rope';
export * from './ops-gru';
export * from './ops-gla';
