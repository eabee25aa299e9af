/**
 * Atomic file writes: write to a temporary file beside the target, fsync it, rename it over the
 * target, then fsync the folder (best effort). A reader sees either the old file or the new one,
 * never a half-written file, even if the process dies mid-write.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

let counter = 0;
function tempName(target: string): string {
  counter = (counter + 1) % 1e9;
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Date.now().toString(36)}-${counter}`);
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

/** Write `data` to `file` atomically (creates parent folders). */
export async function atomicWrite(file: string, data: string | Uint8Array): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  const fd = await fsp.open(tmp, 'w');
  try {
    await fd.writeFile(data);
    await fd.sync();
  } catch (e) {
    await fd.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fd.close();
  try {
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(path.dirname(file));
}

/** Synchronous variant of `atomicWrite`. */
export function atomicWriteSync(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
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
