/**
 * A reader for CHILDES CHAT transcripts (.cha). Each main tier becomes a turn: the speaker token
 * ("<MOT>"), ENV events from the %act / %sit / %gpx (and optionally %com / %exp) dependent tiers,
 * split by their <bef> / <dur> / <aft> scopes, and the utterance's words. Words of interest become
 * `w<ENV>` in ENV text and `w<LAN>` in utterances. Every markup choice is an option (ChatOptions).
 *
 * A malformed file raises a GroundlabError (PARSE or BAD_FILE) naming the file, the line and what
 * is wrong; with `onError: 'skip'` the file is skipped and a warning is reported instead. The reader
 * never throws anything else (a property test checks this).
 */
import * as fs from 'fs';
import * as path from 'path';
import { GroundlabError, isGroundlabError } from '../errors';
import { unknownNameHint } from '../names';
import type { Episode, Turn, TurnEnv } from './types';
import { envToken, lanToken, speakerToken } from './tokens';
import { cdiNouns } from './words';

export interface ChatOptions {
  /** Words of interest (base forms). Default: the 100 CDI nouns of data/cdi-nouns.tsv. */
  nouns?: readonly string[];
  /** Map simple plurals ("balls", "feet") of words of interest to the noun. Default true. */
  plurals?: boolean;
  /** Retraced material before [/], [//], [///], [/-], [/?]: drop it (default) or keep it. */
  retracing?: 'drop' | 'keep';
  /** `word [x 3]`: keep once (default) or expand to 3 copies. */
  repetitions?: 'once' | 'expand';
  /** `word [: target]`: use the target (default) or the original word. */
  replacements?: 'replacement' | 'original';
  /** xxx (unintelligible), yyy (phonological), www (untranscribed): drop (default) or keep as words. */
  untranscribed?: 'drop' | 'keep';
  /** `&=laughs`: an ENV event during the turn (default), dropped, or kept as a word in the utterance. */
  events?: 'env' | 'drop' | 'keep';
  /** `&-uh` fillers: drop (default) or keep ("uh"). */
  fillers?: 'drop' | 'keep';
  /** `&+fr` phonological fragments: drop (default) or keep ("fr"). */
  fragments?: 'drop' | 'keep';
  /** `(be)cause`: the complete word "because" (default) or what was said, "cause". */
  incomplete?: 'complete' | 'spoken';
  /** `word@b`, `dog@o`, `a@l`: keep the word without its marker (default) or drop such words. */
  specialForms?: 'strip' | 'drop';
  /** What each dependent tier becomes: situation, events (scoped by <bef>/<dur>/<aft>), or dropped. */
  tiers?: Partial<Record<ChatEnvTier, 'situation' | 'events' | 'drop'>>;
  /** Scope of event text with no <bef>/<dur>/<aft> marker. Default "during". */
  unscoped?: 'before' | 'during' | 'after';
  /** Participant codes in ENV text ("gives ball to CHI"): their role word ("child", default) or the code. */
  participantsInEnv?: 'role' | 'code';
  /** The @Situation header as the first turn's situation. Default true. */
  situationHeader?: boolean;
  /** Lower-case all words. Default true. */
  lowercase?: boolean;
  /** A malformed file: throw (default) or skip it with a warning. */
  onError?: 'throw' | 'skip';
  /** Receives warnings (skipped files, ignored constructs). Default: collected only. */
  warn?: (w: ChatWarning) => void;
}

export type ChatEnvTier = 'act' | 'sit' | 'gpx' | 'com' | 'exp';

export interface ChatWarning {
  file: string;
  line?: number;
  message: string;
}

export interface ChatParticipant {
  code: string;
  name?: string;
  role: string;
}

export interface ChatTranscript {
  file: string;
  headers: Array<{ name: string; value: string; line: number }>;
  participants: ChatParticipant[];
  turns: Turn[];
}

const DEFAULT_TIERS: Record<ChatEnvTier, 'situation' | 'events' | 'drop'> = {
  act: 'events',
  sit: 'situation',
  gpx: 'events',
  com: 'drop',
  exp: 'drop',
};

/** Standard CHAT dependent tiers that carry no environment information; read and ignored. */
const IGNORED_TIERS = new Set([
  'mor',
  'gra',
  'pho',
  'mod',
  'spa',
  'int',
  'err',
  'add',
  'cod',
  'coh',
  'def',
  'eng',
  'fac',
  'flo',
  'gls',
  'lan',
  'par',
  'tim',
  'trn',
  'grt',
  'ort',
  'sin',
  'alt',
  'wor',
  'xpho',
  'xmod',
  'ges',
  'syn',
  'spn',
  'cnl',
  'ext',
  'gpa',
  'mot',
  'ret',
  'inf',
]);

const IRREGULAR_PLURALS = new Map<string, string>(
  Object.entries({
    feet: 'foot',
    teeth: 'tooth',
    mice: 'mouse',
    geese: 'goose',
    children: 'child',
    men: 'man',
    women: 'woman',
    people: 'person',
    knives: 'knife',
    leaves: 'leaf',
    wolves: 'wolf',
  }),
);

interface Resolved {
  nounSet: Set<string>;
  plurals: boolean;
  retracing: 'drop' | 'keep';
  repetitions: 'once' | 'expand';
  replacements: 'replacement' | 'original';
  untranscribed: 'drop' | 'keep';
  events: 'env' | 'drop' | 'keep';
  fillers: 'drop' | 'keep';
  fragments: 'drop' | 'keep';
  incomplete: 'complete' | 'spoken';
  specialForms: 'strip' | 'drop';
  tiers: Record<ChatEnvTier, 'situation' | 'events' | 'drop'>;
  unscoped: 'before' | 'during' | 'after';
  participantsInEnv: 'role' | 'code';
  situationHeader: boolean;
  lowercase: boolean;
  /** Memo of plain utterance words -> token (or null when the word is dropped). */
  lanCache: Map<string, string | null>;
  envCache: Map<string, string | null>;
}

function resolve(o: ChatOptions): Resolved {
  const nouns = o.nouns ?? cdiNouns().map((n) => n.noun);
  return {
    nounSet: new Set(nouns),
    plurals: o.plurals ?? true,
    retracing: o.retracing ?? 'drop',
    repetitions: o.repetitions ?? 'once',
    replacements: o.replacements ?? 'replacement',
    untranscribed: o.untranscribed ?? 'drop',
    events: o.events ?? 'env',
    fillers: o.fillers ?? 'drop',
    fragments: o.fragments ?? 'drop',
    incomplete: o.incomplete ?? 'complete',
    specialForms: o.specialForms ?? 'strip',
    tiers: { ...DEFAULT_TIERS, ...(o.tiers ?? {}) },
    unscoped: o.unscoped ?? 'during',
    participantsInEnv: o.participantsInEnv ?? 'role',
    situationHeader: o.situationHeader ?? true,
    lowercase: o.lowercase ?? true,
    lanCache: new Map(),
    envCache: new Map(),
  };
}

// ---------------------------------------------------------------------------------------------
// Bytes -> text

/** Byte offset of the first invalid UTF-8 sequence, or -1. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) ((need = 1), (min = 0x80));
    else if (c >= 0xe0 && c <= 0xef) ((need = 2), (min = 0x800));
    else if (c >= 0xf0 && c <= 0xf4) ((need = 3), (min = 0x10000));
    else return i;
    if (i + need >= n) return i;
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

function lineAt(b: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < b.length; i++) if (b[i] === 10) line++;
  return line;
}

/**
 * The byte order of UTF-16 text, from its byte order mark or, without one, from the zero bytes of
 * ASCII characters (every other byte of the first 64 is 0); undefined for anything else.
 */
function utf16Order(b: Uint8Array): 'little-endian' | 'big-endian' | undefined {
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return 'little-endian';
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return 'big-endian';
  const n = Math.min(b.length, 64) & ~1;
  if (n < 4) return undefined;
  let even = 0;
  let odd = 0;
  for (let i = 0; i < n; i += 2) {
    if (b[i] === 0) even++;
    if (b[i + 1] === 0) odd++;
  }
  if (odd === n / 2 && even === 0) return 'little-endian';
  if (even === n / 2 && odd === 0) return 'big-endian';
  return undefined;
}

/** Decode a transcript's bytes: strict UTF-8, no binary data. */
export function decodeChatBytes(bytes: Uint8Array, file: string): string {
  if (bytes.length === 0)
    throw new GroundlabError('BAD_FILE', 'the file is empty', { file, hint: 'a CHAT transcript starts with @UTF8 and @Begin' });
  const utf16 = utf16Order(bytes);
  if (utf16) {
    throw new GroundlabError('BAD_FILE', `the file is UTF-16 (${utf16}) text, not UTF-8`, {
      file,
      hint: 'CHAT files are UTF-8: convert it, e.g. `iconv -f UTF-16 -t UTF-8 in.cha > out.cha`',
    });
  }
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0 || (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 0x15 && c !== 12)) {
      throw new GroundlabError(
        'BAD_FILE',
        `binary data (byte 0x${c.toString(16).padStart(2, '0')} at offset ${i}): this is not a CHAT text file`,
        {
          file,
          line: lineAt(bytes, i),
          hint: 'point the reader at .cha transcripts (plain UTF-8 text)',
        },
      );
    }
  }
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0)
    throw new GroundlabError('BAD_FILE', `not valid UTF-8 (byte 0x${bytes[bad].toString(16)} at offset ${bad})`, {
      file,
      line: lineAt(bytes, bad),
      hint: 'CHAT files are UTF-8; convert older transcripts, e.g. `iconv -f latin1 -t utf-8 in.cha > out.cha`',
    });
  let text = new TextDecoder('utf-8').decode(bytes);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Main-line markup

type Node = { kind: 'word'; text: string } | { kind: 'group'; children: Node[] } | { kind: 'code'; text: string };

class LineError extends Error {}

/** Split a main-tier text into words, <groups> and [codes]. */
function scanMain(s: string): Node[] {
  const stack: Node[][] = [[]];
  let i = 0;
  const n = s.length;
  const top = () => stack[stack.length - 1];
  while (i < n) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\u201e' || c === '\u2021') {
      i++;
      continue;
    }
    if (c === '[') {
      const j = s.indexOf(']', i + 1);
      if (j < 0) throw new LineError(`unclosed "[" at column ${i + 1}`);
      const inner = s.slice(i + 1, j);
      if (inner.includes('[')) throw new LineError(`nested "[" at column ${i + 1}`);
      top().push({ kind: 'code', text: inner.trim() });
      i = j + 1;
      continue;
    }
    if (c === ']') throw new LineError(`"]" without "[" at column ${i + 1}`);
    if (c === '<') {
      stack.push([]);
      i++;
      continue;
    }
    if (c === '>') {
      if (stack.length < 2) throw new LineError(`">" without "<" at column ${i + 1}`);
      const children = stack.pop() as Node[];
      top().push({ kind: 'group', children });
      i++;
      continue;
    }
    let j = i;
    if (c === '+')
      while (j < n && !' \t\n\r['.includes(s[j])) j++; // terminators and linkers: +... +/. +< ++
    else while (j < n && !' \t\n\r[]<>\u201e\u2021'.includes(s[j])) j++;
    top().push({ kind: 'word', text: s.slice(i, j) });
    i = j;
  }
  if (stack.length > 1) throw new LineError('unclosed "<" (a scoped group needs its ">")');
  return stack[0];
}

const PAUSE = /^\((\.{1,3}|\d+(:\d+)?(\.\d*)?)\)$/;
const STRIP_CHARS =
  /[:\u02c8\u02cc\u2191\u2193\u2260\u21ab^\u2248\u2261\u223e\u2219\u2248\u2193\u2197\u2198\u2192\u21d7\u21d8\u2040\u00a7\u2303\u25bc\u25b2\u2907\u2906\u263a\u264b\u2047\u02d0]/g;
const TERMINALS = new Set(['.', '?', '!', ',', ';', ':', '\u201e', '\u2021', '"', '\u201c', '\u201d']);

interface MainOut {
  words: string[];
  events: string[];
}

function cleanWord(raw: string, r: Resolved): string | undefined {
  let w = raw;
  // trailing punctuation glued to a word ("ball." or "yes?")
  w = w.replace(/[.?!,;]+$/, '');
  if (!w) return undefined;
  const at = w.indexOf('@');
  if (at >= 0) {
    if (r.specialForms === 'drop') return undefined;
    w = w.slice(0, at);
  }
  if (r.incomplete === 'complete') w = w.replace(/[()]/g, '');
  else w = w.replace(/\([^)]*\)/g, '').replace(/[()]/g, '');
  w = w.replace(STRIP_CHARS, '');
  if (r.lowercase) w = w.toLowerCase();
  if (!w || /^[^\p{L}\p{N}]+$/u.test(w)) return undefined;
  return w;
}

function nounOf(w: string, r: Resolved): string | undefined {
  if (r.nounSet.has(w)) return w;
  if (!r.plurals) return undefined;
  const irr = IRREGULAR_PLURALS.get(w);
  if (irr && r.nounSet.has(irr)) return irr;
  if (w.length > 3 && w.endsWith('ies') && r.nounSet.has(w.slice(0, -3) + 'y')) return w.slice(0, -3) + 'y';
  if (w.length > 2 && w.endsWith('es') && r.nounSet.has(w.slice(0, -2))) return w.slice(0, -2);
  if (w.length > 1 && w.endsWith('s') && r.nounSet.has(w.slice(0, -1))) return w.slice(0, -1);
  return undefined;
}

function processNodes(nodes: Node[], r: Resolved, out: MainOut): void {
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i];
    if (node.kind === 'code') continue; // a code not attached to anything (e.g. [+ bch] after the terminator)
    const codes: string[] = [];
    while (i + 1 < nodes.length && nodes[i + 1].kind === 'code') codes.push((nodes[++i] as { text: string }).text);
    let target: Node[] = [node];
    let repeat = 1;
    let drop = false;
    for (const code of codes) {
      if (/^\/{1,3}$|^\/[-?]$/.test(code)) {
        if (r.retracing === 'drop') drop = true;
      } else if (code.startsWith('::') || code.startsWith(':')) {
        const repl = code.replace(/^::?/, '').trim();
        if (r.replacements === 'replacement') target = repl ? repl.split(/\s+/).map((t) => ({ kind: 'word' as const, text: t })) : [];
      } else if (/^x\s*\d+$/.test(code)) {
        if (r.repetitions === 'expand') repeat = Math.min(100, Number(code.slice(1).trim()));
      }
      // Everything else ([<], [>], [<1], [!], [!!], [?], [= ...], [=! ...], [% ...], [*], [+ ...], [- ...],
      // [^ ...], [e]) is a comment on the words, not words: ignored.
    }
    if (drop) continue;
    for (let k = 0; k < repeat; k++) {
      for (const t of target) {
        if (t.kind === 'group') processNodes(t.children, r, out);
        else if (t.kind === 'word') processWord(t.text, r, out);
      }
    }
  }
}

function processWord(raw: string, r: Resolved, out: MainOut): void {
  const hit = r.lanCache.get(raw);
  if (hit !== undefined) {
    if (hit !== null) out.words.push(hit);
    return;
  }
  const c0 = raw.charCodeAt(0);
  // Plain words (the bulk of a transcript) are memoised; markup is handled below every time.
  if (c0 !== 38 /* & */ && c0 !== 43 /* + */ && c0 !== 48 /* 0 */ && c0 !== 0x15 && !TERMINALS.has(raw) && !PAUSE.test(raw)) {
    const base = raw.replace(/@.*$/, '').toLowerCase();
    let tok: string | null = null;
    if (base === 'xxx' || base === 'yyy' || base === 'www') tok = r.untranscribed === 'keep' ? base : null;
    else {
      const w = cleanWord(raw, r);
      tok = w ? nounWord(w, r, 'lan') : null;
    }
    r.lanCache.set(raw, tok);
    if (tok !== null) out.words.push(tok);
    return;
  }
  if (TERMINALS.has(raw) || PAUSE.test(raw)) return;
  if (raw.startsWith('+')) return; // terminators (+... +/. +//.) and linkers (+< ++ +^ +,)
  if (raw.startsWith('\u0015')) return; // media bullet remains
  if (raw.startsWith('&')) {
    if (raw.startsWith('&=')) {
      const ev = raw.slice(2).replace(/[:_]/g, ' ').trim();
      if (!ev) return;
      const ws = ev
        .split(/\s+/)
        .map((w) => cleanWord(w, r))
        .filter((w): w is string => !!w);
      if (r.events === 'env') pushAll(out.events, ws);
      else if (r.events === 'keep')
        pushAll(
          out.words,
          ws.map((w) => nounWord(w, r, 'lan')),
        );
      return;
    }
    const kind = raw.startsWith('&-') ? r.fillers : raw.startsWith('&+') ? r.fragments : 'drop';
    if (kind === 'keep') {
      const w = cleanWord(raw.slice(2), r);
      if (w) out.words.push(w);
    }
    return;
  }
  if (raw === '0' || /^0[\p{L}]/u.test(raw)) return; // action without speech; omitted word
  const base = raw.replace(/@.*$/, '').toLowerCase();
  if (base === 'xxx' || base === 'yyy' || base === 'www') {
    if (r.untranscribed === 'keep') out.words.push(base);
    return;
  }
  const w = cleanWord(raw, r);
  if (w) out.words.push(nounWord(w, r, 'lan'));
}

/**
 * Append `src` to `dst` one by one: `dst.push(...src)` passes every element as an argument and
 * overflows the call stack for long lists (an utterance or %act tier of ~120,000 words).
 */
function pushAll<T>(dst: T[], src: readonly T[]): void {
  for (let i = 0; i < src.length; i++) dst.push(src[i]);
}

function nounWord(w: string, r: Resolved, form: 'env' | 'lan'): string {
  const n = nounOf(w, r);
  if (n === undefined) return w;
  return form === 'env' ? envToken(n) : lanToken(n);
}

/** The words and events of one main-tier text (exported for tests). */
export function parseMainLine(text: string, opts: ChatOptions = {}): { words: string[]; events: string[] } {
  const r = resolve(opts);
  const out: MainOut = { words: [], events: [] };
  processNodes(scanMain(text.replace(/\u0015[^\u0015]*\u0015/g, ' ')), r, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Dependent tiers

function envWords(text: string, r: Resolved, roles: Map<string, string>): string[] {
  const out: string[] = [];
  for (const raw of text.split(/[\s,;"()[\]{}]+/)) {
    if (!raw) continue;
    let w = raw.replace(/^[.?!:']+|[.?!:']+$/g, '');
    if (!w) continue;
    if (roles.has(w) && r.participantsInEnv === 'role') {
      out.push(roles.get(w) as string);
      continue;
    }
    let tok = r.envCache.get(w);
    if (tok === undefined) {
      let x = w.replace(/@.*$/, '').replace(STRIP_CHARS, '');
      if (r.lowercase) x = x.toLowerCase();
      tok = !x || /^[^\p{L}\p{N}]+$/u.test(x) ? null : nounWord(x, r, 'env');
      r.envCache.set(w, tok);
    }
    if (tok !== null) out.push(tok);
  }
  return out;
}

/** Split a %act-style text by its <bef>/<dur>/<aft> markers and add its words to `env`. */
function addEvents(text: string, r: Resolved, roles: Map<string, string>, env: TurnEnv, asSituation: boolean): void {
  if (asSituation) {
    pushAll(env.situation, envWords(text.replace(/<(bef|dur|aft)>/g, ' '), r, roles));
    return;
  }
  let scope: 'before' | 'during' | 'after' = r.unscoped;
  const parts = text.split(/(<bef>|<dur>|<aft>)/);
  for (const p of parts) {
    if (p === '<bef>') scope = 'before';
    else if (p === '<dur>') scope = 'during';
    else if (p === '<aft>') scope = 'after';
    else if (p.trim()) pushAll(env[scope], envWords(p, r, roles));
  }
}

// ---------------------------------------------------------------------------------------------
// Files

function roleWord(role: string, code: string): string {
  if (role === 'Target_Child' || code === 'CHI') return 'child';
  return role.toLowerCase().replace(/_/g, ' ').split(' ')[0] || code.toLowerCase();
}

/** Parse one transcript's text. Throws GroundlabError (PARSE) naming the file and line. */
export function parseChat(text: string, file: string, opts: ChatOptions = {}): ChatTranscript {
  const r = resolve(opts);
  // Join continuation lines (a line that starts with a tab continues the tier above it).
  const raw = text.split(/\r\n|\n|\r/);
  const lines: Array<{ text: string; line: number }> = [];
  for (let i = 0; i < raw.length; i++) {
    const l = raw[i];
    if (l.startsWith('\t') && lines.length) {
      lines[lines.length - 1].text += ' ' + l.trim();
      continue;
    }
    if (l.startsWith('\t'))
      throw new GroundlabError('PARSE', 'a continuation line (starting with a tab) with nothing to continue', { file, line: i + 1 });
    lines.push({ text: l, line: i + 1 });
  }
  const err = (line: number, msg: string, hint?: string) => new GroundlabError('PARSE', msg, { file, line, hint });
  const headers: ChatTranscript['headers'] = [];
  const participants: ChatParticipant[] = [];
  const roles = new Map<string, string>();
  const turns: Turn[] = [];
  let begun = false;
  let ended = false;
  let lastLine = 1;
  let situation: string | undefined;
  let current: Turn | undefined;
  for (const { text: l, line } of lines) {
    lastLine = line;
    if (!l.trim()) continue;
    if (ended) throw err(line, 'text after @End');
    if (l.startsWith('@')) {
      const m = /^@([A-Za-z0-9_ -]+?)(?::\s*(.*))?$/.exec(l);
      if (!m) throw err(line, `malformed header ${JSON.stringify(l.slice(0, 40))}`, 'headers look like "@Name:<TAB>value" or "@Begin"');
      const name = m[1].trim();
      const value = (m[2] ?? '').trim();
      if (name === 'Begin') {
        if (begun) throw err(line, 'a second @Begin');
        begun = true;
        continue;
      }
      if (!begun && name !== 'UTF8' && name !== 'PID' && name !== 'Font' && name !== 'Window' && name !== 'Color words')
        throw err(line, `header @${name} before @Begin`, 'a CHAT file starts with @UTF8 then @Begin');
      if (name === 'End') {
        ended = true;
        continue;
      }
      headers.push({ name, value, line });
      if (name === 'Participants') {
        for (const part of value.split(',')) {
          const f = part.trim().split(/\s+/).filter(Boolean);
          if (!f.length) continue;
          if (!/^[A-Za-z0-9]+$/.test(f[0])) throw err(line, `bad participant code "${f[0]}"`);
          const p: ChatParticipant = {
            code: f[0],
            role: f.length >= 2 ? f[f.length - 1] : 'Unidentified',
            name: f.length >= 3 ? f.slice(1, -1).join(' ') : undefined,
          };
          participants.push(p);
          roles.set(p.code, roleWord(p.role, p.code));
        }
        if (!participants.length) throw err(line, '@Participants lists nobody');
      } else if (name === 'Situation') situation = value;
      continue;
    }
    if (!begun) throw err(line, 'expected @Begin before the transcript', 'a CHAT file starts with @UTF8 then @Begin');
    if (l.startsWith('*')) {
      const m = /^\*([A-Za-z0-9]+):(?:\t| )(.*)$/.exec(l);
      if (!m) throw err(line, `malformed main tier ${JSON.stringify(l.slice(0, 40))}`, 'main tiers look like "*MOT:<TAB>words ."');
      const code = m[1];
      if (!roles.has(code)) throw err(line, `speaker *${code} is not declared in @Participants`);
      if (!m[2].trim()) throw err(line, `empty main tier *${code}`);
      let parsed: MainOut;
      try {
        parsed = { words: [], events: [] };
        processNodes(scanMain(m[2].replace(/\u0015[^\u0015]*\u0015/g, ' ')), r, parsed);
      } catch (e) {
        if (e instanceof LineError) throw err(line, `*${code}: ${e.message}`);
        throw e;
      }
      const env: TurnEnv = { situation: [], before: [], during: [], after: [] };
      if (!turns.length && situation && r.situationHeader) pushAll(env.situation, envWords(situation, r, roles));
      if (parsed.events.length)
        pushAll(
          env.during,
          parsed.events.map((w) => nounWord(w, r, 'env')),
        );
      current = { speaker: speakerToken(code), env, utterance: parsed.words, source: { file, line } };
      turns.push(current);
      continue;
    }
    if (l.startsWith('%')) {
      const m = /^%([A-Za-z0-9]+):(?:\t| )?(.*)$/.exec(l);
      if (!m) throw err(line, `malformed dependent tier ${JSON.stringify(l.slice(0, 40))}`, 'dependent tiers look like "%act:<TAB>text"');
      const tier = m[1].toLowerCase();
      if (!current) throw err(line, `dependent tier %${tier} before any main tier`);
      if (tier in DEFAULT_TIERS) {
        const use = r.tiers[tier as ChatEnvTier];
        if (use !== 'drop') addEvents(m[2], r, roles, current.env, use === 'situation');
      } else if (!IGNORED_TIERS.has(tier) && !tier.startsWith('x')) {
        throw err(
          line,
          `unknown dependent tier %${tier}`,
          'CHAT dependent tiers are e.g. %act, %sit, %gpx, %com, %exp, %mor, %gra, %pho; user tiers start with %x',
        );
      }
      continue;
    }
    throw err(
      line,
      `cannot read line ${JSON.stringify(l.slice(0, 40))}`,
      'every CHAT line starts with @ (header), * (main tier), % (dependent tier) or a tab (continuation)',
    );
  }
  if (!begun) throw err(1, 'no @Begin: this is not a CHAT transcript', 'a CHAT file starts with @UTF8 then @Begin');
  if (!ended) throw err(lastLine, 'the file ends without @End (truncated?)', 'a complete CHAT transcript ends with @End');
  return { file, headers, participants, turns };
}

/** Read one .cha file into a transcript. */
export function readChatFile(file: string, opts: ChatOptions = {}): ChatTranscript {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new GroundlabError(code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_FILE', `cannot read: ${(e as Error).message}`, { file, cause: e });
  }
  return parseChat(decodeChatBytes(bytes, file), file, opts);
}

/** All .cha files under a folder (sorted, recursive), or the file itself. */
export function listChatFiles(root: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch (e) {
    throw new GroundlabError('NOT_FOUND', `no such file or folder: ${root}`, { cause: e });
  }
  if (st.isFile()) return [root];
  const out: string[] = [];
  const walk = (dir: string) => {
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.toLowerCase().endsWith('.cha')) out.push(p);
    }
  };
  walk(root);
  if (!out.length)
    throw new GroundlabError('NOT_FOUND', `no .cha files under ${root}`, {
      hint: 'unzip a TalkBank corpus (e.g. childes.talkbank.org > Eng-NA) and point at its folder',
    });
  return out;
}

export interface ChatCorpus {
  episodes: Episode[];
  files: number;
  skipped: number;
  warnings: ChatWarning[];
}

/** Read a folder tree (or one file) of CHAT transcripts; one episode per transcript. */
export function readChatTree(root: string, opts: ChatOptions = {}): ChatCorpus {
  const files = listChatFiles(root);
  const warnings: ChatWarning[] = [];
  const episodes: Episode[] = [];
  let skipped = 0;
  const noTurns: string[] = [];
  const base = fs.statSync(root).isFile() ? path.dirname(root) : root;
  for (const f of files) {
    try {
      const t = readChatFile(f, opts);
      if (t.turns.length) episodes.push({ id: path.relative(base, f) || path.basename(f), turns: t.turns });
      else noTurns.push(f);
    } catch (e) {
      if (opts.onError === 'skip' && isGroundlabError(e) && (e.code === 'PARSE' || e.code === 'BAD_FILE')) {
        skipped++;
        const w = { file: f, line: e.line, message: `skipped: ${e.message}` };
        warnings.push(w);
        opts.warn?.(w);
        continue;
      }
      throw e;
    }
  }
  if (!episodes.length) {
    if (noTurns.length) {
      const which =
        noTurns.length === 1
          ? ''
          : `: ${noTurns
              .slice(0, 5)
              .map((f) => path.relative(base, f) || f)
              .join(', ')}${noTurns.length > 5 ? ', ...' : ''}`;
      throw new GroundlabError(
        'BAD_FILE',
        `${noTurns.length === 1 ? 'the transcript has' : `${noTurns.length} transcripts have`} headers only: no utterance (main tier) to read${which}${skipped ? ` (${skipped} other files skipped)` : ''}`,
        {
          file: noTurns.length === 1 ? noTurns[0] : undefined,
          hint: 'a transcript needs main tiers between @Begin and @End, e.g. "*MOT:<TAB>look at the ball ."',
        },
      );
    }
    throw new GroundlabError('BAD_FILE', `no transcript under ${root} could be read (${skipped} skipped)`, { hint: warnings[0]?.message });
  }
  return { episodes, files: files.length, skipped, warnings };
}

/** Candidate evaluation frames for CHAT corpora; `chatEvalFrames` keeps those absent from the corpus. */
export const CHAT_FRAME_CANDIDATES: Array<{ id: string; tokens: string[] }> = [
  { id: 'chi-env/mot-look-at-the', tokens: ['<CHI>', '{ENV}', '<MOT>', 'look', 'at', 'the'] },
  { id: 'mot-env/do-you-want-the', tokens: ['<MOT>', '{ENV}', 'do', 'you', 'want', 'the'] },
  { id: 'chi-env/mot-is-that-a', tokens: ['<CHI>', '{ENV}', '<MOT>', 'is', 'that', 'a'] },
  { id: 'mot-env/that-is-your', tokens: ['<MOT>', '{ENV}', 'that', 'is', 'your'] },
  { id: 'chi-env/mot-you-have-a', tokens: ['<CHI>', '{ENV}', '<MOT>', 'you', 'have', 'a'] },
];

/**
 * Evaluation frames for a CHAT corpus: the candidates whose full token sequence (any ENV token in
 * the slot) never occurs in the corpus's token stream. Real transcripts contain these phrases with
 * other ENV context, so "held out" here means the exact frame, not its wording.
 */
export function chatEvalFrames(episodes: readonly Episode[]): Array<{ id: string; tokens: string[] }> {
  const streams = episodes.map((e) => {
    const out: string[] = [];
    for (const t of e.turns)
      for (const part of [[t.speaker], t.env.situation, t.env.before, t.env.during, t.utterance, t.env.after]) pushAll(out, part);
    return out;
  });
  const occurs = (pat: string[]) =>
    streams.some((s) => {
      outer: for (let i = 0; i + pat.length <= s.length; i++) {
        for (let j = 0; j < pat.length; j++) {
          const p = pat[j];
          if (p === '{ENV}' ? !s[i + j].endsWith('<ENV>') : s[i + j] !== p) continue outer;
        }
        return true;
      }
      return false;
    });
  return CHAT_FRAME_CANDIDATES.filter((f) => !occurs(f.tokens)).map((f) => ({ id: f.id, tokens: [...f.tokens] }));
}

/** ChatOptions from a CorpusSpec's knobs (strings and booleans; "tier.act": "situation" etc.). */
export function chatOptionsFromKnobs(knobs: Record<string, number | boolean | string> = {}): ChatOptions {
  const o: Record<string, unknown> = {};
  const tiers: Record<string, string> = {};
  const allowed: Record<string, readonly (string | boolean)[]> = {
    plurals: [true, false],
    retracing: ['drop', 'keep'],
    repetitions: ['once', 'expand'],
    replacements: ['replacement', 'original'],
    untranscribed: ['drop', 'keep'],
    events: ['env', 'drop', 'keep'],
    fillers: ['drop', 'keep'],
    fragments: ['drop', 'keep'],
    incomplete: ['complete', 'spoken'],
    specialForms: ['strip', 'drop'],
    unscoped: ['before', 'during', 'after'],
    participantsInEnv: ['role', 'code'],
    situationHeader: [true, false],
    lowercase: [true, false],
    onError: ['throw', 'skip'],
  };
  for (const [k, v] of Object.entries(knobs)) {
    if (k.startsWith('tier.')) {
      const t = k.slice(5);
      if (!(t in DEFAULT_TIERS) || !['situation', 'events', 'drop'].includes(String(v)))
        throw new GroundlabError(
          'BAD_CONFIG',
          `CHAT option ${k}=${String(v)}: expected tier.{act,sit,gpx,com,exp} = situation|events|drop`,
        );
      tiers[t] = String(v);
      continue;
    }
    const ok = allowed[k];
    const val = v === 'true' ? true : v === 'false' ? false : v;
    if (!ok)
      throw new GroundlabError('BAD_CONFIG', `unknown CHAT option "${k}"`, {
        hint: unknownNameHint(k, [...Object.keys(allowed), 'tier.<name>'], 'options'),
      });
    if (!ok.includes(val as string | boolean))
      throw new GroundlabError('BAD_CONFIG', `CHAT option ${k}=${String(v)}: expected one of ${ok.join(', ')}`);
    o[k] = val;
  }
  if (Object.keys(tiers).length) o.tiers = tiers;
  return o as ChatOptions;
}
