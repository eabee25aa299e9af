// The analysis stage's public API: saliency, lenses, interventions, patching, whole-run analysis.
export * from './saliency';
export * from './lens';
export * from './ablation';
export * from './patching';
export * from './cooccurrence';
export * from './analyze';
export * from './report';
export * from './inspect';
export * from './gradients';
export * from './pathpatch';
export * from './attribution';
export * from './dla';
export * from './steering';
export * from './circuits';
export * from './binding';
export * from './entitybinding';
export * from './mixture';
