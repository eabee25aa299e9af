// The viz stage's public API (its owner lists its exports here).
export {};
export * from './widgets';
export * from './render';
export * from './figures';
export * from './plotly';
export * from './circuit';
export * from './das';
export * from './bindinggrid';
