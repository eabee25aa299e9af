// The lab stage: glue for notebooks and widgets (a run directory in, widget data out).
export * from './widgets';
export * from './runs';
