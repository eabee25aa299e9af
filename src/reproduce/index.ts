// The reproduce stage's public API: the plan of runs, collection of their tables, the report.
export * from './plan';
export * from './collect';
export * from './report';
export * from './run';
export * from './emergence';
export * from './binding';
