// The eval stage's public API: evaluation sets, scoring, template checks.
export * from './evalset';
export * from './image';
export * from './surprisal';
export * from './templates';
