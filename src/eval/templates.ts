/**
 * Checking evaluation templates against the training text (DESIGN.md's trap: a held-out frame
 * ending in "here is the" measures the wrong thing if training has "where is the", always said of
 * absent objects). For each frame we look up in the training token stream:
 * - verbatim: the whole frame (its slot matching any ENV token) occurs in training, so it is not
 *   held out;
 * - each suffix n-gram (n = minN..maxN, the tokens just before the prediction) and what follows
 *   it: a word-of-interest LAN token whose ENV form is among the `window` tokens before
 *   ("grounded": the continuation the frame is meant to measure), one whose ENV form is absent
 *   ("ungrounded": another continuation), or anything else.
 * A frame is flagged when one of its suffixes is followed by LAN nouns at least `minCount` times
 * and the ungrounded share of those is at least `threshold`, or when it occurs verbatim.
 */
import { ENV_SLOT, type Frame } from './evalset';

export interface TemplateCheckOptions {
  minN: number;
  maxN: number;
  /** Tokens before an occurrence that count as "the environment" (default 32). */
  window: number;
  minCount: number;
  /** Flag when ungrounded / (grounded + ungrounded) >= threshold. */
  threshold: number;
  isEnv: (t: string) => boolean;
  isLan: (t: string) => boolean;
  /** "ball<LAN>" -> "ball<ENV>". */
  envOfLan: (t: string) => string;
}

export const DEFAULT_TEMPLATE_CHECK: TemplateCheckOptions = {
  minN: 2,
  maxN: 4,
  window: 32,
  minCount: 5,
  threshold: 0.5,
  isEnv: (t) => t.endsWith('<ENV>') && t.length > 5,
  isLan: (t) => t.endsWith('<LAN>') && t.length > 5,
  envOfLan: (t) => t.slice(0, -5) + '<ENV>',
};

export interface SuffixCheck {
  frame: string;
  n: number;
  ngram: string;
  /** Occurrences of the n-gram in training. */
  count: number;
  /** ...followed by a LAN noun whose ENV form is / is not in the window before. */
  grounded: number;
  ungrounded: number;
  /** An example of an ungrounded continuation (the tokens around it), if any. */
  example?: string;
}

export interface TemplateCheck {
  frame: string;
  verbatim: number;
  flagged: boolean;
  reason: string;
  suffixes: SuffixCheck[];
}

/** Check frames against training token sequences (one array per episode or document). */
export function checkTemplates(
  frames: readonly Frame[],
  training: Iterable<readonly string[]>,
  opts: Partial<TemplateCheckOptions> = {},
): TemplateCheck[] {
  const o = { ...DEFAULT_TEMPLATE_CHECK, ...opts };
  const norm = (t: string) => (o.isEnv(t) ? ENV_SLOT : t);
  // targets: key -> list of (frame index, n, kind)
  type Target = { frame: number; n: number; verbatim: boolean };
  const targets = new Map<string, Target[]>();
  const lengths = new Set<number>();
  const lastTokens = new Set<string>();
  const add = (key: string[], t: Target) => {
    const k = key.join(' ');
    (targets.get(k) ?? targets.set(k, []).get(k)!).push(t);
    lengths.add(key.length);
    lastTokens.add(key[key.length - 1]);
  };
  const results: TemplateCheck[] = frames.map((f) => ({ frame: f.id, verbatim: 0, flagged: false, reason: '', suffixes: [] }));
  frames.forEach((f, fi) => {
    const toks = f.tokens.map(norm);
    add(toks, { frame: fi, n: toks.length, verbatim: true });
    for (let n = o.minN; n <= Math.min(o.maxN, toks.length); n++) {
      const g = toks.slice(toks.length - n);
      results[fi].suffixes.push({ frame: f.id, n, ngram: g.join(' '), count: 0, grounded: 0, ungrounded: 0 });
      add(g, { frame: fi, n, verbatim: false });
    }
  });
  const lens = [...lengths].sort((a, b) => a - b);
  for (const seq of training) {
    const s = seq.map(norm);
    for (let i = 0; i < s.length; i++) {
      if (!lastTokens.has(s[i])) continue;
      for (const n of lens) {
        if (n > i + 1) break;
        const hits = targets.get(s.slice(i - n + 1, i + 1).join(' '));
        if (!hits) continue;
        for (const h of hits) {
          const r = results[h.frame];
          if (h.verbatim) {
            r.verbatim++;
            continue;
          }
          const sc = r.suffixes.find((x) => x.n === h.n)!;
          sc.count++;
          const next = seq[i + 1];
          if (next === undefined || !o.isLan(next)) continue;
          const env = o.envOfLan(next);
          let present = false;
          for (let j = Math.max(0, i - n + 1 - o.window); j <= i; j++) if (seq[j] === env) present = true;
          if (present) sc.grounded++;
          else {
            sc.ungrounded++;
            if (!sc.example) sc.example = seq.slice(Math.max(0, i - 8), i + 2).join(' ');
          }
        }
      }
    }
  }
  for (const r of results) {
    const reasons: string[] = [];
    if (r.verbatim > 0) reasons.push(`occurs verbatim ${r.verbatim} times in training (not held out)`);
    for (const sc of r.suffixes) {
      const lan = sc.grounded + sc.ungrounded;
      if (lan >= o.minCount && sc.ungrounded / lan >= o.threshold)
        reasons.push(
          `"${sc.ngram}" is followed in training by a noun absent from the environment ${sc.ungrounded} of ${lan} times (e.g. "${sc.example}")`,
        );
    }
    r.flagged = reasons.length > 0;
    r.reason = reasons.join('; ');
  }
  return results;
}
