export * from './backend';
export * from './rng';
export * from './ops';
export * from './ops-kernels';
