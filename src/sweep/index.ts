// The sweep stage's public API: grids of runs, run locally or through Slurm, and aggregated.
export { readSpec, validateSpec, expandCells, flagsToArgv, specFromFlags, specToJSON } from './spec';
export type { SweepSpec, SweepCell, AnalysisStep, FlagValue } from './spec';
export {
  openSweep,
  readCellState,
  effectiveCellState,
  lastCheckpointStep,
  plannedSteps,
  cellDir,
  cellStatePath,
  cellLogPath,
  MANIFEST,
  SWEEP_FILES,
} from './store';
export type { Sweep, SweepManifest, CellState, CellStateName, SlurmSubmission } from './store';
export { runCell, cellStages, groundlabCommand, buildId } from './cell';
export type { CellResult, RunCellOptions, Stage } from './cell';
export { runSweepLocal, defaultJobs, JobSlots } from './local';
export type { LocalRunOptions, LocalRunResult, SweepEvent, SweepCounts, SweepProgressEvent } from './local';
export { slurmScript, submitSlurm, sweepStatus, schedulerView, waitForJobs, arraySpec, cellsToSubmit, activeSlurmCells } from './slurm';
export type { SlurmOptions, SubmitResult, SweepStatus, CellStatus, SchedulerView } from './slurm';
export { aggregateSweep, finalMeasures, readArrowFile, seedStats } from './aggregate';
export type { AggregateOptions, AggregateResult } from './aggregate';
