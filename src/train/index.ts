// The train stage's public API.
export * from './progress';
export * from './sigint';
export * from './optimizer';
export * from './schedule';
export * from './presets';
export * from './deps';
export * from './run';
export * from './trainer';
