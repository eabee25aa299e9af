// The data stage's public API.
export * from './types';
export * from './tokens';
export * from './words';
export * from './tokenizer';
export * from './dataset';
export * from './stats';
export * from './synthetic';
export * from './prepare';
export * from './chat';
export * from './caption';
export * from './image';
export * from './corpusfile';
export * from './knobs';
export * from './counting';
export * from './binding';
export * from './textbinding';
export * from './imagebinding';
