/**
 * Token conventions shared by every corpus: the two forms of a word of interest, speaker tokens,
 * special tokens, and the flat token order of an episode.
 */
import type { Episode, Tokenizer, Turn } from './types';

export const ENV_SUFFIX = '<ENV>';
export const LAN_SUFFIX = '<LAN>';

/** "ball" -> "ball<ENV>": the thing is present in the environment. */
export function envToken(noun: string): string {
  return noun + ENV_SUFFIX;
}

/** "ball" -> "ball<LAN>": the word is spoken. */
export function lanToken(noun: string): string {
  return noun + LAN_SUFFIX;
}

export function isEnvToken(t: string): boolean {
  return t.endsWith(ENV_SUFFIX) && t.length > ENV_SUFFIX.length;
}

export function isLanToken(t: string): boolean {
  return t.endsWith(LAN_SUFFIX) && t.length > LAN_SUFFIX.length;
}

/** "ball<ENV>" / "ball<LAN>" -> "ball"; other tokens unchanged. */
export function baseForm(t: string): string {
  if (isEnvToken(t)) return t.slice(0, -ENV_SUFFIX.length);
  if (isLanToken(t)) return t.slice(0, -LAN_SUFFIX.length);
  return t;
}

export const PAD = '<pad>';
export const UNK = '<unk>';
export const BOS = '<bos>';
export const EOS = '<eos>';
/** One continuous ENV input (an image patch); its features come through TokenDataset.features. */
export const PATCH = '<patch>';
export const SPECIAL_TOKENS = [PAD, UNK, BOS, EOS, PATCH] as const;

/**
 * The id that pads evaluation batches: `<pad>`'s, or 0 where the vocabulary has no `<pad>` (a
 * Hugging Face tokenizer's, say). The causal tasks' own vocabularies always have one (padIdOf in
 * src/causal/das.ts).
 */
export function batchPadId(tok: Pick<Tokenizer, 'id' | 'token'>): number {
  const id = tok.id(PAD);
  return tok.token(id) === PAD ? id : 0;
}

/** Speaker tokens look like "<MOT>": CHAT speaker codes in angle brackets. */
export function speakerToken(code: string): string {
  return `<${code.toUpperCase()}>`;
}

export function isSpeakerToken(t: string): boolean {
  return /^<[A-Z][A-Z0-9_]*>$/.test(t) && t !== ENV_SUFFIX && t !== LAN_SUFFIX;
}

/** The tokens of one turn: speaker, situation, events before, during, the utterance, events after. */
export function turnTokens(turn: Turn): string[] {
  const e = turn.env;
  return [turn.speaker, ...e.situation, ...e.before, ...e.during, ...turn.utterance, ...e.after];
}

/** The flat token sequence the model sees for an episode (turns in order; no separators). */
export function episodeTokens(ep: Episode): string[] {
  const out: string[] = [];
  for (const t of ep.turns) {
    const e = t.env;
    out.push(t.speaker);
    for (const x of e.situation) out.push(x);
    for (const x of e.before) out.push(x);
    for (const x of e.during) out.push(x);
    for (const x of t.utterance) out.push(x);
    for (const x of e.after) out.push(x);
  }
  return out;
}
