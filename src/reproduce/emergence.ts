/**
 * Emergence time against referential noise (the `emergence` group of a reproduction): for each
 * setting (simple, simple with one noise knob at its realistic value, realistic) and architecture,
 * the first checkpoint at which G exceeds a threshold (1 nat), from the runs' G at every checkpoint.
 * A run that never gets there within its steps is censored: its step is reported as "> last step".
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

/** The setting of an emergence run, from its label ("transformer [simple + pUnnamed=0.25]"). */
function settingOf(run: RunTables): string | undefined {
  const m = /\[(.+)\]$/.exec(run.label);
  return m ? m[1] : undefined;
}

/** One row per emergence run: when G first exceeds the threshold. */
export function emergenceRows(runs: RunTables[], threshold = EMERGENCE_THRESHOLD): EmergenceRow[] {
  const order = emergenceSettings();
  const rows: EmergenceRow[] = [];
  for (const r of runs) {
    if (!r.group.startsWith('emergence/')) continue;
    const setting = settingOf(r);
    const g = [...(r.tables.gain_summary ?? [])].sort((a, b) => Number(a.step) - Number(b.step));
    if (!setting || !g.length) continue;
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

/**
 * The table of the report: one row per setting, per architecture the emergence step ("> N" when
 * censored; the mean over seeds when there are several and none is censored) and the final G.
 */
export function emergenceTable(rows: EmergenceRow[]): { rows: Row[]; cols: Array<[string, string]> } {
  const archs = EMERGENCE_ARCHS.filter((a) => rows.some((r) => r.arch === a));
  const settings = emergenceSettings().filter((s) => rows.some((r) => r.setting === s));
  const out = settings.map((setting) => {
    const row: Row = { setting };
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
            : Math.round(rs.reduce((s, r) => s + r.step!, 0) / rs.length);
      row[`${a}_gain`] = rs.reduce((s, r) => s + r.finalGain, 0) / rs.length;
    }
    return row;
  });
  const cols: Array<[string, string]> = [['setting', 'setting']];
  for (const a of archs) cols.push([`${a}_step`, `${a}: first step with G > ${EMERGENCE_THRESHOLD}`], [`${a}_gain`, `${a}: final G`]);
  return { rows: out, cols };
}
