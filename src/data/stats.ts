/**
 * Corpus statistics: size, and per word of interest the ENV count, LAN count and co-occurrence
 * within a window; the paper's filter (at least `minCount` = 100 of each form).
 */
import type { CorpusStats, Episode, NounStats } from './types';
import { envToken, episodeTokens, lanToken } from './tokens';

export interface StatsOptions {
  /** Words of interest (base forms), in the order the stats list them. */
  nouns: readonly string[];
  /** Co-occurrence window in tokens (within an episode). Default 64. */
  window?: number;
  /** The filter's threshold. Default 100 (the paper). */
  minCount?: number;
  vocabSize?: number;
}

export const DEFAULT_MIN_COUNT = 100;
export const DEFAULT_WINDOW = 64;

export function corpusStats(episodes: readonly Episode[], opts: StatsOptions): CorpusStats {
  const window = opts.window ?? DEFAULT_WINDOW;
  const minCount = opts.minCount ?? DEFAULT_MIN_COUNT;
  const n = opts.nouns.length;
  const form = new Map<string, number>(); // token -> noun index * 2 + (0 ENV | 1 LAN)
  opts.nouns.forEach((w, i) => {
    form.set(envToken(w), 2 * i);
    form.set(lanToken(w), 2 * i + 1);
  });
  const env = new Float64Array(n);
  const lan = new Float64Array(n);
  const cooc = new Float64Array(n);
  const followed = new Float64Array(n);
  const types = new Set<string>();
  let tokens = 0;
  let turns = 0;
  const lastEnv = new Int32Array(n);
  const pending: number[][] = Array.from({ length: n }, () => []);
  for (const ep of episodes) {
    turns += ep.turns.length;
    const toks = episodeTokens(ep);
    tokens += toks.length;
    lastEnv.fill(-1e9);
    for (const p of pending) p.length = 0;
    // Continuous ENV inputs (image patches) count as ENV occurrences of the nouns they show, at
    // the turn's first token.
    const extra = new Map<number, string[]>();
    let pos = 0;
    for (const t of ep.turns) {
      if (t.envNouns?.length) extra.set(pos, t.envNouns);
      pos += 1 + t.env.situation.length + t.env.before.length + t.env.during.length + t.utterance.length + t.env.after.length;
    }
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i];
      types.add(t);
      const shown = extra.get(i);
      if (shown) {
        for (const w of shown) {
          const g = form.get(envToken(w));
          if (g === undefined) continue;
          env[g >> 1]++;
          lastEnv[g >> 1] = i;
          pending[g >> 1].push(i);
        }
      }
      const f = form.get(t);
      if (f === undefined) continue;
      const v = f >> 1;
      if ((f & 1) === 0) {
        env[v]++;
        lastEnv[v] = i;
        pending[v].push(i);
      } else {
        lan[v]++;
        if (i - lastEnv[v] <= window) cooc[v]++;
        for (const j of pending[v]) if (i - j <= window) followed[v]++;
        pending[v].length = 0;
      }
    }
  }
  const nouns: NounStats[] = opts.nouns.map((noun, i) => ({
    noun,
    env: env[i],
    lan: lan[i],
    cooc: cooc[i],
    envFollowed: followed[i],
    pass: env[i] >= minCount && lan[i] >= minCount,
  }));
  return {
    episodes: episodes.length,
    turns,
    tokens,
    types: types.size,
    vocabSize: opts.vocabSize ?? 0,
    window,
    minCount,
    nouns,
    passing: nouns.filter((s) => s.pass).map((s) => s.noun),
  };
}

function quantiles(xs: number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0] ?? 0, median: s.length ? s[Math.floor((s.length - 1) / 2)] : 0, max: s[s.length - 1] ?? 0 };
}

/** A plain-text report of corpus statistics (what `groundlab corpus stats` prints). */
export function formatStats(st: CorpusStats, opts: { perNoun?: boolean } = {}): string {
  const e = quantiles(st.nouns.map((x) => x.env));
  const l = quantiles(st.nouns.map((x) => x.lan));
  const c = quantiles(st.nouns.map((x) => (x.lan ? x.cooc / x.lan : 0)));
  const lines = [
    `episodes ${st.episodes}, turns ${st.turns}, tokens ${st.tokens}, distinct tokens ${st.types}, vocabulary ${st.vocabSize}`,
    `words of interest ${st.nouns.length}; passing the filter (>= ${st.minCount} ENV and >= ${st.minCount} LAN): ${st.passing.length}`,
    `ENV count per noun: min ${e.min}, median ${e.median}, max ${e.max}`,
    `LAN count per noun: min ${l.min}, median ${l.median}, max ${l.max}`,
    `share of LAN with the same noun's ENV in the ${st.window} tokens before: min ${c.min.toFixed(2)}, median ${c.median.toFixed(2)}, max ${c.max.toFixed(2)}`,
  ];
  if (opts.perNoun) {
    lines.push('', 'noun           ENV     LAN    cooc  envFollowed  pass');
    for (const x of st.nouns)
      lines.push(
        `${x.noun.padEnd(12)} ${String(x.env).padStart(6)} ${String(x.lan).padStart(7)} ${String(x.cooc).padStart(7)} ${String(x.envFollowed).padStart(12)}  ${x.pass ? 'yes' : 'no'}`,
      );
  }
  return lines.join('\n');
}
