/**
 * Atomic file writes: write to a temporary file beside the target, fsync it, rename it over the
 * target, then fsync the folder (best effort). A reader sees either the old file or the new one,
 * never a half-written file, even if the process dies mid-write. A temporary file left by a killed
 * writer (`.<name>.tmp-<pid>-...`) is removed by `removeStaleTemps` (the trainer does so for its
 * folders when a run starts). Operating-system errors (disk full, read-only, a path through a file)
 * become GroundlabErrors (code IO) that name the file and say what to do.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { fromSystemError } from '../errors';
import { faultPoint } from './faults';

let counter = 0;
function tempName(target: string): string {
  counter = (counter + 1) % 1e9;
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Date.now().toString(36)}-${counter}`);
}

const TEMP_RE = /^\..+\.tmp-(\d+)-[0-9a-z]+-\d+$/;

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/**
 * Remove the temporary files of atomic writes in `dir` (not below it) whose writer is gone; with
 * `all`, also those of live processes (for folders only the caller writes, under its lock); with
 * `only`, just the names it matches.
 * Returns the names removed.
 */
export function removeStaleTemps(dir: string, opts: { all?: boolean; only?: RegExp } = {}): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    const m = TEMP_RE.exec(n);
    if (!m || (opts.only && !opts.only.test(n)) || (!opts.all && pidAlive(Number(m[1])))) continue;
    fs.rmSync(path.join(dir, n), { force: true });
    out.push(n);
  }
  return out;
}

/**
 * `mkdir -p` whose errors name the real cause: Node's recursive mkdir reports ENOENT for some
 * failures (e.g. a read-only parent), so the first missing folder is created alone to learn why.
 */
export function mkdirp(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    return;
  } catch (e) {
    let missing = path.resolve(dir);
    for (;;) {
      const parent = path.dirname(missing);
      if (parent === missing) break;
      const st = fs.statSync(parent, { throwIfNoEntry: false });
      if (st) {
        if (!st.isDirectory())
          throw fromSystemError(
            Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR', syscall: 'mkdir', path: parent }),
            { file: parent, doing: `create the folder ${dir}` },
          );
        break;
      }
      missing = parent;
    }
    try {
      fs.mkdirSync(missing);
    } catch (e2) {
      if ((e2 as { code?: string }).code !== 'EEXIST') throw fromSystemError(e2, { file: missing, doing: 'create the folder' });
    }
    const st = fs.statSync(dir, { throwIfNoEntry: false });
    if (st && !st.isDirectory())
      throw fromSystemError(Object.assign(new Error('ENOTDIR'), { code: 'ENOTDIR', syscall: 'mkdir', path: dir }), {
        file: dir,
        doing: 'create the folder (a file has its name)',
      });
    throw fromSystemError(e, { file: dir, doing: 'create the folder' });
  }
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const fd = await fsp.open(dir, 'r');
    try {
      await fd.sync();
    } finally {
      await fd.close();
    }
  } catch {
    // Some filesystems do not allow opening or syncing a folder; the rename is still atomic.
  }
}

const asBytes = (data: string | Uint8Array) => (typeof data === 'string' ? Buffer.from(data, 'utf8') : data);

/** Write `data` to `file` atomically (creates parent folders). */
export async function atomicWrite(file: string, data: string | Uint8Array): Promise<void> {
  mkdirp(path.dirname(file));
  const tmp = tempName(file);
  const base = path.basename(file);
  let fd: fsp.FileHandle;
  try {
    fd = await fsp.open(tmp, 'w');
  } catch (e) {
    throw fromSystemError(e, { file, doing: 'write' });
  }
  try {
    const bytes = asBytes(data);
    const half = bytes.byteLength >> 1;
    await fd.writeFile(bytes.subarray(0, half));
    faultPoint(`mid-write:${base}`);
    await fd.writeFile(bytes.subarray(half));
    await fd.sync();
  } catch (e) {
    await fd.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw fromSystemError(e, { file, doing: 'write' });
  }
  await fd.close();
  faultPoint(`written:${base}`);
  try {
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw fromSystemError(e, { file, doing: 'write' });
  }
  faultPoint(`renamed:${base}`);
  await fsyncDir(path.dirname(file));
}

/** Synchronous variant of `atomicWrite`. */
export function atomicWriteSync(file: string, data: string | Uint8Array): void {
  mkdirp(path.dirname(file));
  const tmp = tempName(file);
  const base = path.basename(file);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'w');
  } catch (e) {
    throw fromSystemError(e, { file, doing: 'write' });
  }
  try {
    const bytes = asBytes(data);
    const half = bytes.byteLength >> 1;
    fs.writeFileSync(fd, bytes.subarray(0, half));
    faultPoint(`mid-write:${base}`);
    fs.writeFileSync(fd, bytes.subarray(half));
    fs.fsyncSync(fd);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    throw fromSystemError(e, { file, doing: 'write' });
  }
  fs.closeSync(fd);
  faultPoint(`written:${base}`);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw fromSystemError(e, { file, doing: 'write' });
  }
  faultPoint(`renamed:${base}`);
  try {
    const dfd = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // see fsyncDir
  }
}

/** Write JSON (2-space indented, trailing newline) atomically. */
export function atomicWriteJSON(file: string, obj: unknown): Promise<void> {
  return atomicWrite(file, JSON.stringify(obj, null, 2) + '\n');
}
