/**
 * Setup leaves `git status` clean: the extension installs with `npm ci` (scripts/setup.sh), which
 * never rewrites the tracked lock file but refuses a lock that misses a package npm would record,
 * such as another platform's optional rspack binding. These checks fail on such a lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../src/lab/runs';

const ROOT = repoRoot();

interface LockEntry {
  version?: string;
  optionalDependencies?: Record<string, string>;
  dependencies?: Record<string, string>;
}

/** Where npm looks for `dep` required by the package at `at` (its own node_modules, then up). */
function resolvesIn(packages: Record<string, LockEntry>, at: string, dep: string): boolean {
  let base = at;
  for (;;) {
    if (`${base ? base + '/' : ''}node_modules/${dep}` in packages) return true;
    if (!base) return false;
    const i = base.lastIndexOf('/node_modules/');
    base = i < 0 ? '' : base.slice(0, i);
  }
}

for (const lockPath of ['package-lock.json', 'extension/package-lock.json']) {
  test(`${lockPath} records every optional dependency (npm ci accepts it on any platform)`, () => {
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, lockPath), 'utf8')) as { lockfileVersion: number; packages: Record<string, LockEntry> };
    assert.ok(lock.lockfileVersion >= 2, 'a lockfile with a packages section');
    const missing: string[] = [];
    for (const [at, entry] of Object.entries(lock.packages)) {
      for (const dep of Object.keys(entry.optionalDependencies ?? {})) if (!resolvesIn(lock.packages, at, dep)) missing.push(`${at || '(root)'} -> ${dep}`);
    }
    assert.deepEqual(missing, [], 'optional dependencies without a lock entry');
  });
}

test('setup installs the extension with npm ci, never npm install', () => {
  const sh = fs.readFileSync(path.join(ROOT, 'scripts', 'setup.sh'), 'utf8');
  const body = /setup_extension\(\) \{([\s\S]*?)\n\}/.exec(sh)?.[1] ?? '';
  assert.match(body, /npm ci /);
  assert.doesNotMatch(body.replace(/#.*$/gm, ''), /npm install/);
});
