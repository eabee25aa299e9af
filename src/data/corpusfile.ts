/**
 * Saved corpora: one JSON line of header ({ groundlab: "corpus", version, spec, nouns, evalFrames,
 * featureDim, episodes }) then one episode per line. Patch features are base64 float32
 * (little-endian). Written atomically, so a failed export never leaves a half-written file.
 */
import * as fs from 'fs';
import { GroundlabError } from '../errors';
import { atomicWrite } from '../io/atomic';
import type { CorpusSpec, Episode, EvalFrame, Turn } from './types';

export interface CorpusFile {
  spec: CorpusSpec;
  nouns: string[];
  evalFrames: EvalFrame[];
  featureDim: number;
  episodes: Episode[];
}

function f32ToB64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function b64ToF32(s: string): Float32Array | undefined {
  const b = Buffer.from(s, 'base64');
  if (b.length % 4 !== 0) return undefined;
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** The file's text (header line + one line per episode). */
export function corpusFileText(c: CorpusFile): string {
  const lines = [
    JSON.stringify({
      groundlab: 'corpus',
      version: 1,
      spec: c.spec,
      nouns: c.nouns,
      evalFrames: c.evalFrames,
      featureDim: c.featureDim,
      episodes: c.episodes.length,
    }),
  ];
  for (const ep of c.episodes) {
    lines.push(
      JSON.stringify({
        id: ep.id,
        turns: ep.turns.map((t) => ({ ...t, patches: t.patches ? t.patches.map(f32ToB64) : undefined })),
      }),
    );
  }
  return lines.join('\n') + '\n';
}

export async function writeCorpusFile(path: string, c: CorpusFile): Promise<void> {
  await atomicWrite(path, corpusFileText(c));
}

export function readCorpusFile(path: string): CorpusFile {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new GroundlabError(code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_FILE', `cannot read corpus file: ${(e as Error).message}`, {
      file: path,
      cause: e,
    });
  }
  return parseCorpusFile(text, path);
}

/** Parse a corpus file's text (`path` names it in errors). */
export function parseCorpusFile(text: string, path: string): CorpusFile {
  const lines = text.split('\n');
  const bad = (line: number, what: string) =>
    new GroundlabError('PARSE', what, {
      file: path,
      line,
      hint: 'corpus files are written by `groundlab corpus generate --out` or `groundlab corpus import --out`',
    });
  let head: {
    groundlab?: string;
    version?: number;
    spec?: CorpusSpec;
    nouns?: string[];
    evalFrames?: EvalFrame[];
    featureDim?: number;
    episodes?: number;
  };
  try {
    head = JSON.parse(lines[0]);
  } catch {
    throw bad(1, 'the first line is not a JSON corpus header');
  }
  if (!head || typeof head !== 'object' || head.groundlab !== 'corpus' || head.version !== 1)
    throw bad(1, 'not a groundlab corpus file (header "groundlab": "corpus", version 1 expected)');
  if (
    !Array.isArray(head.nouns) ||
    !head.nouns.every((n) => typeof n === 'string') ||
    typeof head.featureDim !== 'number' ||
    !(head.featureDim >= 0)
  )
    throw bad(1, 'header lacks nouns or featureDim');
  if (
    !Array.isArray(head.evalFrames) ||
    !head.evalFrames.every((f) => f && typeof f.id === 'string' && Array.isArray(f.tokens) && f.tokens.every((t) => typeof t === 'string'))
  )
    throw bad(1, 'header evalFrames must be a list of { id, tokens }');
  const episodes: Episode[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    let ep: { id: string; turns: Array<Omit<Turn, 'patches'> & { patches?: string[] }> };
    try {
      ep = JSON.parse(lines[i]);
    } catch {
      throw bad(i + 1, 'this line is not valid JSON (truncated file?)');
    }
    if (!ep || typeof ep !== 'object' || typeof ep.id !== 'string' || !Array.isArray(ep.turns))
      throw bad(i + 1, 'an episode needs "id" and "turns"');
    const turns: Turn[] = [];
    for (const t of ep.turns) {
      const e = t?.env;
      const okList = (x: unknown) => Array.isArray(x) && x.every((w) => typeof w === 'string');
      if (
        !t ||
        typeof t.speaker !== 'string' ||
        !e ||
        !okList(e.situation) ||
        !okList(e.before) ||
        !okList(e.during) ||
        !okList(e.after) ||
        !okList(t.utterance)
      )
        throw bad(i + 1, 'a turn needs speaker, env {situation, before, during, after} and utterance');
      const turn: Turn = {
        speaker: t.speaker,
        env: { situation: e.situation, before: e.before, during: e.during, after: e.after },
        utterance: t.utterance,
      };
      if (t.patches !== undefined) {
        if (!okList(t.patches)) throw bad(i + 1, 'patches must be a list of base64 strings');
        turn.patches = t.patches.map((p) => {
          const f = b64ToF32(p);
          if (!f || f.length !== head.featureDim)
            throw bad(i + 1, `a patch has ${f ? f.length : 'a broken'} features, expected ${head.featureDim}`);
          return f;
        });
      }
      if (t.envNouns !== undefined) {
        if (!okList(t.envNouns)) throw bad(i + 1, 'envNouns must be a list of strings');
        turn.envNouns = t.envNouns;
      }
      if (t.source && typeof t.source.file === 'string' && typeof t.source.line === 'number')
        turn.source = { file: t.source.file, line: t.source.line };
      turns.push(turn);
    }
    episodes.push({ id: ep.id, turns });
  }
  if (typeof head.episodes === 'number' && head.episodes !== episodes.length)
    throw bad(lines.length, `the header announces ${head.episodes} episodes but the file holds ${episodes.length} (truncated?)`);
  return {
    spec: head.spec ?? { kind: 'file', path },
    nouns: head.nouns,
    evalFrames: head.evalFrames,
    featureDim: head.featureDim,
    episodes,
  };
}
