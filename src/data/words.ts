/**
 * The words of interest: 100 nouns of the MacArthur-Bates CDI (Words & Sentences), read from
 * data/cdi-nouns.tsv (the file states where they come from and how they were chosen).
 */
import * as fs from 'fs';
import * as path from 'path';
import { GroundlabError } from '../errors';

export type NounKind =
  'animal' | 'vehicle' | 'toy' | 'food' | 'drink' | 'clothing' | 'body' | 'household' | 'furniture' | 'outside' | 'place' | 'person';

export interface CdiNoun {
  noun: string;
  /** The CDI's own category name, e.g. "Animals". */
  category: string;
  /** Coarse affordance class the synthetic generators use to choose plausible actions. */
  kind: NounKind;
}

const KINDS = new Set<string>([
  'animal',
  'vehicle',
  'toy',
  'food',
  'drink',
  'clothing',
  'body',
  'household',
  'furniture',
  'outside',
  'place',
  'person',
]);

/** The package's data/ folder (works from src/ under tsx and from dist/src/ after a build). */
export function dataDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const cand = path.join(dir, 'data', 'cdi-nouns.tsv');
    if (fs.existsSync(cand)) return path.join(dir, 'data');
    dir = path.dirname(dir);
  }
  throw new GroundlabError('NOT_FOUND', 'cannot find the data/ folder with cdi-nouns.tsv', {
    hint: 'groundlab looks for data/ in the folders above its own code; reinstall the package',
  });
}

/** Parse the TSV word list (comment lines start with "#", then a header row). */
export function parseNounList(text: string, file = 'cdi-nouns.tsv'): CdiNoun[] {
  const out: CdiNoun[] = [];
  const seen = new Set<string>();
  let header = false;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.trim() || line.startsWith('#')) continue;
    const cols = line.split('\t');
    if (!header) {
      header = true;
      if (cols[0] !== 'noun')
        throw new GroundlabError('PARSE', 'expected the header row "noun<TAB>category<TAB>kind"', { file, line: i + 1 });
      continue;
    }
    const [noun, category, kind] = cols;
    if (cols.length !== 3 || !/^[a-z_]+$/.test(noun) || !KINDS.has(kind))
      throw new GroundlabError('PARSE', `bad row ${JSON.stringify(line)}: expected noun (lowercase letters), category, kind`, {
        file,
        line: i + 1,
      });
    if (seen.has(noun)) throw new GroundlabError('PARSE', `duplicate noun "${noun}"`, { file, line: i + 1 });
    seen.add(noun);
    out.push({ noun, category, kind: kind as NounKind });
  }
  return out;
}

let cached: CdiNoun[] | undefined;

/** The 100 CDI nouns, in file order. */
export function cdiNouns(): CdiNoun[] {
  if (!cached) {
    const file = path.join(dataDir(), 'cdi-nouns.tsv');
    cached = parseNounList(fs.readFileSync(file, 'utf8'), file);
  }
  return cached.map((n) => ({ ...n }));
}

/**
 * `count` nouns spread evenly over the list (so every CDI category keeps its share): indices
 * floor(i * 100 / count). count = 100 gives the whole list.
 */
export function nounSubset(count: number): CdiNoun[] {
  const all = cdiNouns();
  if (!Number.isInteger(count) || count < 2 || count > all.length)
    throw new GroundlabError('BAD_CONFIG', `nouns = ${count}: expected a whole number from 2 to ${all.length}`);
  const out: CdiNoun[] = [];
  for (let i = 0; i < count; i++) out.push(all[Math.floor((i * all.length) / count)]);
  return out;
}
