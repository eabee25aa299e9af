/**
 * Co-occurrence control: corpus statistics of v<ENV> and v<LAN> per noun, and R^2 of G(v) against
 * them at every checkpoint (the paper: R^2 rises early and falls while G keeps rising).
 */
import { linearRegression } from '../metrics/stats';
import type { GainRow } from '../metrics/gain';

export interface NounCounts {
  noun: string;
  /** Occurrences of noun<ENV> / noun<LAN> in the training corpus. */
  env: number;
  lan: number;
  /** noun<LAN> occurrences with a noun<ENV> among the `window` tokens before them. */
  cooc: number;
  /** noun<ENV> occurrences followed by a noun<LAN> within `window` tokens. */
  envFollowed: number;
}

/** Count ENV/LAN occurrences and co-occurrences within `window` tokens (inside each sequence). */
export function countCooccurrence(
  sequences: Iterable<readonly string[]>,
  nouns: readonly string[],
  opts: { window?: number; envForm?: (n: string) => string; lanForm?: (n: string) => string } = {},
): NounCounts[] {
  const window = opts.window ?? 64;
  const envForm = opts.envForm ?? ((n: string) => n + '<ENV>');
  const lanForm = opts.lanForm ?? ((n: string) => n + '<LAN>');
  const idx = new Map<string, [number, 'env' | 'lan']>();
  nouns.forEach((n, i) => {
    idx.set(envForm(n), [i, 'env']);
    idx.set(lanForm(n), [i, 'lan']);
  });
  const out: NounCounts[] = nouns.map((noun) => ({ noun, env: 0, lan: 0, cooc: 0, envFollowed: 0 }));
  for (const seq of sequences) {
    const lastEnv = new Map<number, number>();
    const openEnv = new Map<number, number[]>(); // ENV positions not yet followed by a LAN
    seq.forEach((t, pos) => {
      const hit = idx.get(t);
      if (!hit) return;
      const [i, kind] = hit;
      if (kind === 'env') {
        out[i].env++;
        lastEnv.set(i, pos);
        (openEnv.get(i) ?? openEnv.set(i, []).get(i)!).push(pos);
      } else {
        out[i].lan++;
        const le = lastEnv.get(i);
        if (le !== undefined && pos - le <= window) out[i].cooc++;
        const open = openEnv.get(i);
        if (open) {
          for (const p of open) if (pos - p <= window) out[i].envFollowed++;
          openEnv.set(i, []);
        }
      }
    });
  }
  return out;
}

/** The predictors of G: name -> value per noun. */
export function cooccurrenceFeatures(c: NounCounts): Record<string, number> {
  return {
    log_cooc: Math.log1p(c.cooc),
    log_env: Math.log1p(c.env),
    log_lan: Math.log1p(c.lan),
    p_lan_after_env: c.env > 0 ? c.envFollowed / c.env : 0,
    p_env_before_lan: c.lan > 0 ? c.cooc / c.lan : 0,
  };
}

export interface CooccurrenceFit {
  /** A single predictor's name, or "all" for the multiple regression on every predictor. */
  predictors: string;
  r2: number;
  adjR2: number;
  n: number;
}

/** R^2 of G(v) against each co-occurrence predictor alone and all together. */
export function cooccurrenceR2(gains: readonly GainRow[], counts: readonly NounCounts[]): CooccurrenceFit[] {
  const byNoun = new Map(counts.map((c) => [c.noun, cooccurrenceFeatures(c)]));
  const rows = gains.filter((g) => Number.isFinite(g.gain) && byNoun.has(g.noun));
  if (rows.length === 0) return [];
  const names = Object.keys(byNoun.get(rows[0].noun)!);
  const y = rows.map((r) => r.gain);
  const fits: CooccurrenceFit[] = names.map((nm) => {
    const r = linearRegression(
      rows.map((g) => [byNoun.get(g.noun)![nm]]),
      y,
    );
    return { predictors: nm, r2: r.r2, adjR2: r.adjR2, n: r.n };
  });
  const all = linearRegression(
    rows.map((g) => names.map((nm) => byNoun.get(g.noun)![nm])),
    y,
  );
  fits.push({ predictors: 'all', r2: all.r2, adjR2: all.adjR2, n: all.n });
  return fits;
}
