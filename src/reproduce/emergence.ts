/**
 * Emergence time against referential noise (the `emergence` group of a reproduction): for each
 * setting (simple, simple with one noise knob at its realistic value, realistic) and architecture,
 * the first checkpoint at which G exceeds a threshold (1 nat), from the runs' G at every checkpoint.
 * A run that never gets there within its steps is censored: its step is reported as "> last step".
 * The main comparison's and the noise group's runs are the same runs as the simple and realistic
 * settings (same preset, corpus and seeds), so they count too: one run per setting, architecture
 * and seed.
 */
import { noiseSteps, EMERGENCE_ARCHS } from './plan';
import type { Row, RunTables } from './collect';

/** G (nats, mean over nouns) that counts as grounded. */
export const EMERGENCE_THRESHOLD = 1;

export interface EmergenceRow extends Row {
  /** "simple", "realistic" or "simple + <knob>=<value>". */
  setting: string;
  arch: string;
  seed: number;
  /** First checkpoint with G > threshold; undefined when none (censored). */
  step: number | undefined;
  /** The run's last checkpoint (the censoring bound). */
  lastStep: number;
  /** G at the last checkpoint. */
  finalGain: number;
  censored: boolean;
}

/** The settings in the order of the sweep: simple, each knob alone, realistic. */
export function emergenceSettings(): string[] {
  return ['simple', ...noiseSteps().map((k) => `simple + ${k}`), 'realistic'];
}

/**
 * The setting of a run for the sweep: an emergence run's from its label ("transformer [simple +
 * pUnnamed=0.25]"); a main or noise run's is its named corpus setting (src/reproduce/collect.ts).
 */
function settingOf(run: RunTables): string | undefined {
  if (run.group.startsWith('emergence/')) return /\[(.+)\]$/.exec(run.label)?.[1];
  if (run.group === 'main' || run.group === 'noise') return run.setting;
  return undefined;
}

/** One row per emergence run: when G first exceeds the threshold. */
export function emergenceRows(runs: RunTables[], threshold = EMERGENCE_THRESHOLD): EmergenceRow[] {
  const order = emergenceSettings();
  const rows: EmergenceRow[] = [];
  const seen = new Set<string>();
  for (const r of runs) {
    const setting = settingOf(r);
    if (!setting || !(EMERGENCE_ARCHS as readonly string[]).includes(r.arch)) continue;
    const g = [...(r.tables.gain_summary ?? [])].sort((a, b) => Number(a.step) - Number(b.step));
    const key = `${setting}\u0000${r.arch}\u0000${r.seed}`;
    if (!g.length || seen.has(key)) continue;
    seen.add(key);
    const hit = g.find((x) => Number(x.gain) > threshold);
    const last = g[g.length - 1];
    rows.push({
      setting,
      arch: r.arch,
      seed: r.seed,
      step: hit ? Number(hit.step) : undefined,
      lastStep: Number(last.step),
      finalGain: Number(last.gain),
      censored: !hit,
    });
  }
  const archIdx = (a: string) => (EMERGENCE_ARCHS as readonly string[]).indexOf(a);
  return rows.sort((a, b) => order.indexOf(a.setting) - order.indexOf(b.setting) || archIdx(a.arch) - archIdx(b.arch) || a.seed - b.seed);
}

/** Steps over seeds: the mean and range, or the one step they share. */
function spread(steps: number[]): string {
  const lo = Math.min(...steps);
  const hi = Math.max(...steps);
  const mean = Math.round(steps.reduce((s, x) => s + x, 0) / steps.length);
  return lo === hi ? `${lo} (all ${steps.length} seeds)` : `${mean} (${lo} to ${hi}, ${steps.length} seeds)`;
}

/**
 * The table of the report: one row per setting, per architecture the emergence step ("> N" when
 * censored; over several seeds the mean and range when none is censored, else the steps and the
 * censored count) and the final G (mean over seeds).
 */
export function emergenceTable(rows: EmergenceRow[]): { rows: Row[]; cols: Array<[string, string]> } {
  const archs = EMERGENCE_ARCHS.filter((a) => rows.some((r) => r.arch === a));
  const settings = emergenceSettings().filter((s) => rows.some((r) => r.setting === s));
  const out = settings.map((setting) => {
    const row: Row = { setting, seeds: new Set(rows.filter((r) => r.setting === setting).map((r) => r.seed)).size };
    for (const a of archs) {
      const rs = rows.filter((r) => r.setting === setting && r.arch === a);
      if (!rs.length) continue;
      const cens = rs.filter((r) => r.censored);
      row[`${a}_step`] =
        cens.length === rs.length
          ? `> ${Math.max(...rs.map((r) => r.lastStep))}`
          : cens.length
            ? `${rs
                .filter((r) => !r.censored)
                .map((r) => r.step)
                .join(', ')}; ${cens.length} of ${rs.length} > ${Math.max(...cens.map((r) => r.lastStep))}`
            : rs.length === 1
              ? rs[0].step!
              : spread(rs.map((r) => r.step!));
      row[`${a}_gain`] = rs.reduce((s, r) => s + r.finalGain, 0) / rs.length;
    }
    return row;
  });
  const cols: Array<[string, string]> = [
    ['setting', 'setting'],
    ['seeds', 'seeds'],
  ];
  for (const a of archs) cols.push([`${a}_step`, `${a}: first step with G > ${EMERGENCE_THRESHOLD}`], [`${a}_gain`, `${a}: final G`]);
  return { rows: out, cols };
}

/**
 * The emergence step on the simple and on the realistic setting, per architecture that has both
 * (the table's cells: a step, a mean and range, or "> N"), for the report's claim that referential
 * noise delays grounding; undefined when no architecture has both.
 */
export function emergenceContrast(rows: EmergenceRow[]): string | undefined {
  const t = emergenceTable(rows);
  const simple = t.rows.find((r) => r.setting === 'simple');
  const realistic = t.rows.find((r) => r.setting === 'realistic');
  if (!simple || !realistic) return undefined;
  const parts = EMERGENCE_ARCHS.filter((a) => simple[`${a}_step`] !== undefined && realistic[`${a}_step`] !== undefined).map(
    (a) => `${a} ${simple[`${a}_step`]} -> ${realistic[`${a}_step`]}`,
  );
  return parts.length ? `first step with G > ${EMERGENCE_THRESHOLD} nat, simple -> realistic: ${parts.join(', ')}` : undefined;
}
