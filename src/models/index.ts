// The models stage's public API (its owner lists its exports here).
export {};
export * from './types';
