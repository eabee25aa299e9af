// The metrics stage's public API: statistics, grounding gain, head classification.
export * from './stats';
export * from './gain';
export * from './heads';
