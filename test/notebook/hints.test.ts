/**
 * Errors a notebook can meet give advice in the API's words: every GroundlabError raised by the
 * stages a notebook calls whose hint names a CLI flag (`--out`) also carries a `codeHint`, which
 * the kernel shows instead. A scan of the source with the TypeScript parser; a new hint with a flag and
 * no codeHint fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { repoRoot } from '../../src/lab/runs';

const SRC = path.join(repoRoot(), 'src');
/** The stages a notebook calls (src/cli, src/sweep and src/reproduce are driven by the command line). */
const NOTEBOOK_FACING = /^(train|analysis|eval|lab|probe|notebook|viz|metrics|data|models)\//;
/** Errors there that only the command line meets, or that name the CLI command that makes a file. */
const CLI_ONLY = [/^data\/corpusfile\.ts$/];

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : []));
}

/** `new GroundlabError(code, message, { hint: ...--flag..., ... })` calls without a codeHint. */
export function flagHintsWithoutCodeHint(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isNewExpression(n) && n.expression.getText(sf) === 'GroundlabError') {
      const details = n.arguments?.[2];
      if (details && ts.isObjectLiteralExpression(details)) {
        const prop = (name: string) => details.properties.find((p) => p.name && p.name.getText(sf) === name);
        const hint = prop('hint');
        if (hint && /--[a-z]/.test(hint.getText(sf)) && !prop('codeHint')) found.push(`${file}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

test('the scan finds a flag hint without a codeHint, and accepts one with it', () => {
  assert.deepEqual(flagHintsWithoutCodeHint('x.ts', "throw new GroundlabError('NOT_FOUND', 'no run', { hint: 'give the --out folder' });"), ['x.ts:1']);
  assert.deepEqual(flagHintsWithoutCodeHint('x.ts', "throw new GroundlabError('NOT_FOUND', 'no run', { hint: 'give the --out folder', codeHint: 'give train() its out' });"), []);
  assert.deepEqual(flagHintsWithoutCodeHint('x.ts', "throw new GroundlabError('NOT_FOUND', 'no run', { hint: 'check the path' });"), []);
});

test('every library error whose hint names a CLI flag has a codeHint for notebooks', () => {
  const missing: string[] = [];
  for (const f of files(SRC)) {
    const rel = path.relative(SRC, f).split(path.sep).join('/');
    if (!NOTEBOOK_FACING.test(rel) || CLI_ONLY.some((re) => re.test(rel))) continue;
    missing.push(...flagHintsWithoutCodeHint(rel, fs.readFileSync(f, 'utf8')));
  }
  assert.deepEqual(missing, []);
});
