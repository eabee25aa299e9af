/**
 * Probe sweeps: one built-in task, every requested hook (default: the residual stream at every
 * depth: the input of block 0, then after every block) of every requested checkpoint, in one call. One forward pass per batch and checkpoint
 * collects all hooks at once; a probe is then fitted per hook. The results are an arquero table
 * saved in the run as `probes/<task>.arrow` after every checkpoint, so an interrupted sweep keeps
 * what it finished and a later call with the same settings reuses those rows.
 */
import * as aq from 'arquero';
import type { ColumnTable } from 'arquero';
import { GroundlabError } from '../errors';
import { initEngine } from '../engine/backend';
import type { LanguageModel } from '../models/types';
import { collectActivations, hookLayer, residualHooks, type ProbeProgressFn } from './collect';
import { probeClassification, PROBE_DEFAULTS, type ProbeOptions } from './evaluate';
import { buildProbeTask, TASK_DEFAULTS, type ProbeTask, type TaskOptions, type TaskSource } from './tasks';

/**
 * What a sweep needs of a run (src/train's `Run` satisfies it): the model config, the checkpoint
 * list, the models, the data and a table store.
 */
export interface ProbeRun {
  dir: string;
  config: { model: { contextLength: number; nLayers: number } };
  checkpoints: ReadonlyArray<{ step: number }>;
  loadModel(step?: number): Promise<LanguageModel>;
  data(): Promise<unknown>;
  writeTable(name: string, table: ColumnTable): Promise<void>;
  readTable(name: string): Promise<ColumnTable | undefined>;
  writeJSON?(name: string, obj: unknown): Promise<void>;
}

export interface SweepOptions {
  /** Built-in task name: env-noun | grounded | speaker. */
  task: string;
  /** Hook points (default: the residual stream at every depth, `blocks.0.hook_resid_pre` then `blocks.{l}.hook_resid_post`). */
  hooks?: string[];
  /** Checkpoint steps (default: all). */
  checkpoints?: number[];
  /** Task options (position, source, maxExamples, ...). */
  taskOptions?: Partial<Omit<TaskOptions, 'contextLength'>>;
  /** Probe options (l2, testFraction, seed, maxIter, control). */
  probe?: Partial<ProbeOptions>;
  /** Contexts per forward pass. */
  batchSize?: number;
  /** Recompute rows that the saved table already has. */
  force?: boolean;
  /** Save the table in the run (default true). */
  save?: boolean;
  onProgress?: ProbeProgressFn;
  signal?: AbortSignal;
}

export interface SweepResult {
  task: ProbeTask;
  /** One row per (checkpoint, hook): see PROBE_TABLE_COLUMNS. */
  table: ColumnTable;
  /** Name of the table in the run ("probes/<task>"). */
  tableName: string;
  /** Rows computed now / reused from the saved table. */
  computed: number;
  reused: number;
}

/** The columns of a probe table, in order. */
export const PROBE_TABLE_COLUMNS = [
  'task',
  'step',
  'hook',
  'layer',
  'position',
  'n_train',
  'n_test',
  'n_classes',
  'accuracy',
  'test_loss',
  'train_accuracy',
  'chance_majority',
  'chance_uniform',
  'control_accuracy',
  'selectivity',
  'control_groups',
  'converged',
  'settings',
] as const;

type Row = Record<(typeof PROBE_TABLE_COLUMNS)[number], string | number | boolean>;

/** The probe tasks' view of a run's prepared data (`run.data()`), or a clear error when it lacks what they need. */
export function asTaskSource(d: unknown): TaskSource {
  const x = d as Partial<TaskSource>;
  if (!x || !x.tokenizer || !Array.isArray(x.nouns) || !Array.isArray(x.episodes) || !Array.isArray(x.evalFrames)) {
    throw new GroundlabError('UNSUPPORTED', "this run's data has no episodes, nouns or evaluation frames; probe tasks need them", {
      hint: 'probe tasks are built from a corpus prepared by src/data (prepareData)',
    });
  }
  return x as TaskSource;
}

/** Probe a task at every hook of every checkpoint; save and return the table. */
export async function probeSweep(run: ProbeRun, opts: SweepOptions): Promise<SweepResult> {
  await initEngine();
  const probeOpts: ProbeOptions = { ...PROBE_DEFAULTS, ...(opts.probe ?? {}) };
  const taskOpts = { ...TASK_DEFAULTS, ...(opts.taskOptions ?? {}), contextLength: run.config.model.contextLength };
  const steps = opts.checkpoints ?? run.checkpoints.map((c) => c.step);
  const have = new Set(run.checkpoints.map((c) => c.step));
  for (const s of steps) {
    if (!have.has(s)) {
      throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no checkpoint at step ${s}`, {
        hint: `available steps: ${[...have].join(', ') || 'none (train first)'}`,
      });
    }
  }
  if (!steps.length) throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no checkpoints to probe`, { hint: 'train it first' });
  const task = buildProbeTask(opts.task, asTaskSource(await run.data()), taskOpts);
  // Everything that changes a result, so saved rows are reused only under the same settings and data.
  const settings = JSON.stringify({
    data: taskFingerprint(task),
    task: { ...taskOpts, position: taskOpts.position ?? null },
    probe: {
      l2: probeOpts.l2,
      testFraction: probeOpts.testFraction,
      seed: probeOpts.seed,
      maxIter: probeOpts.maxIter,
      stratify: probeOpts.stratify,
      control: probeOpts.control,
      folds: probeOpts.folds,
    },
  });
  const tableName = probeTableName(opts.task, taskOpts);
  const save = opts.save ?? true;
  const old = save ? await run.readTable(tableName) : undefined;
  const rows: Row[] = old ? (old.objects() as Row[]) : [];
  const key = (step: number, hook: string) => `${step}\u0000${hook}`;
  const done = new Set(opts.force ? [] : rows.filter((r) => r.settings === settings).map((r) => key(Number(r.step), String(r.hook))));
  // The hook list is known without a model when given, else from the first model loaded.
  let hookList = opts.hooks;
  let computed = 0;
  let reused = 0;
  const label = `probe ${opts.task}`;
  for (let si = 0; si < steps.length; si++) {
    const step = steps[si];
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', `${label}: stopped before checkpoint ${step}`);
    if (hookList && hookList.every((h) => done.has(key(step, h)))) {
      reused += hookList.length;
      continue;
    }
    let model: LanguageModel | undefined;
    try {
      model = await run.loadModel(step);
      const hooks = (hookList ??= residualHooks(model));
      const todo = hooks.filter((h) => !done.has(key(step, h)));
      reused += hooks.length - todo.length;
      if (!todo.length) continue;
      opts.onProgress?.({
        task: label,
        step: si,
        total: steps.length,
        message: `step ${step}: collecting ${todo.length} hooks over ${task.contexts.length} contexts`,
      });
      const acts = await collectActivations(model, task.contexts, {
        hooks: todo,
        batchSize: opts.batchSize,
        signal: opts.signal,
        padId: 0,
        progressTask: `${label} step ${step}`,
      });
      const nLayers = model.config.nLayers;
      model.dispose();
      model = undefined;
      for (const h of todo) {
        if (opts.signal?.aborted) throw new GroundlabError('ABORTED', `${label}: stopped at step ${step}, ${h}`);
        const r = probeClassification(
          {
            x: acts.x[h],
            n: acts.n,
            d: acts.dims[h],
            labels: task.labels,
            classes: task.classes,
            groups: acts.tokenAtPosition,
            splitGroups: task.splitGroups,
            testMask: task.testMask,
          },
          probeOpts,
        );
        const idx = rows.findIndex((x) => Number(x.step) === step && x.hook === h);
        const row: Row = {
          task: opts.task,
          step,
          hook: h,
          layer: hookLayer(h, nLayers),
          position: task.position,
          n_train: r.nTrain,
          n_test: r.nTest,
          n_classes: r.nClasses,
          accuracy: r.accuracy,
          test_loss: r.testLoss,
          train_accuracy: r.trainAccuracy,
          chance_majority: r.chanceMajority,
          chance_uniform: r.chanceUniform,
          control_accuracy: r.controlAccuracy,
          selectivity: r.selectivity,
          control_groups: r.controlGroups,
          converged: r.converged,
          settings,
        };
        if (idx >= 0) rows[idx] = row;
        else rows.push(row);
        computed++;
        await new Promise((res) => setImmediate(res));
      }
      if (save) await run.writeTable(tableName, toTable(rows));
      opts.onProgress?.({ task: label, step: si + 1, total: steps.length, message: `step ${step}: ${todo.length} probes` });
    } finally {
      model?.dispose();
    }
  }
  opts.onProgress?.({
    task: label,
    step: steps.length,
    total: steps.length,
    done: true,
    message: `${computed} probes computed, ${reused} reused`,
  });
  const wanted = new Set(steps);
  const table = toTable(
    rows.filter((r) => r.settings === settings && wanted.has(Number(r.step)) && (!opts.hooks || opts.hooks.includes(String(r.hook)))),
  );
  return { task, table, tableName, computed, reused };
}

/**
 * The run table a sweep writes: `probes/<task>`, with the env-noun source and a non-default read
 * position in the name (`probes/env-noun-transfer`, `probes/env-noun-at-env`), so that variants
 * that ask different questions keep separate tables. Other settings (l2, folds, ...) replace rows.
 */
export function probeTableName(task: string, o: Partial<Pick<TaskOptions, 'source' | 'position'>> = {}): string {
  const parts = [task];
  if (task === 'env-noun' && o.source && o.source !== 'frames') parts.push(o.source);
  if (o.position !== undefined && o.position !== 'pre-lan') parts.push(`at-${String(o.position)}`);
  return `probes/${parts.join('-')}`;
}

/** A short hash (FNV-1a, hex) of a task's contexts, read positions and labels. */
export function taskFingerprint(task: ProbeTask): string {
  let h = 0x811c9dc5;
  const mix = (v: number) => {
    h ^= v & 0xff;
    h = Math.imul(h, 0x01000193);
    h ^= (v >>> 8) & 0xffffff;
    h = Math.imul(h, 0x01000193);
  };
  mix(task.contexts.length);
  task.contexts.forEach((c, i) => {
    mix(c.tokens.length);
    for (let j = 0; j < c.tokens.length; j++) mix(c.tokens[j]);
    mix(c.position);
    mix(task.labels[i]);
    mix(task.testMask?.[i] ?? 2);
  });
  for (const g of task.splitGroups ?? []) for (let j = 0; j < g.length; j++) mix(g.charCodeAt(j));
  return (h >>> 0).toString(16).padStart(8, '0') + `/${task.contexts.length}`;
}

/** Rows -> an arquero table with the probe columns in order, sorted by step then layer then hook. */
export function toTable(rows: Row[]): ColumnTable {
  const sorted = [...rows].sort(
    (a, b) => Number(a.step) - Number(b.step) || Number(a.layer) - Number(b.layer) || String(a.hook).localeCompare(String(b.hook)),
  );
  const cols: Record<string, unknown[]> = {};
  // Rows saved by an older version may lack a column: NaN for numbers.
  for (const c of PROBE_TABLE_COLUMNS) cols[c] = sorted.map((r) => r[c] ?? NaN);
  return aq.table(cols);
}
