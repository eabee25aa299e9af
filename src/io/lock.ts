/**
 * One holder at a time: a lock file that names its holder ("pid host nonce"), for the trainer's run
 * lock (`<run>/.train.lock`) and the sweep's cell claims (`<sweep>/_sweep/<cell>.lock`).
 *
 * - Taking a free lock is one atomic step: the holder's line is written to a private file, which is
 *   then hard-linked to the lock's name (link fails if the name exists), so a reader never sees a
 *   half-written lock. (Filesystems without hard links fall back to an exclusive create.)
 * - A lock whose holder no longer runs on this host is stale. Taking it over is atomic too: the
 *   first process to create `<lock>.takeover-<hash of the stale line>` (exclusive) removes the stale
 *   lock and races for the free lock as above; every other process that saw the same stale line
 *   waits and then finds the new holder. Each holder line carries a random nonce, so a stale line
 *   never comes back and an old takeover file never applies to a newer lock.
 * - A holder on another host cannot be checked and is taken at its word.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GroundlabError, fromSystemError } from '../errors';

export interface LockHolder {
  pid: number;
  host: string;
  /** The lock file's whole line. */
  line: string;
}

export interface LockOptions {
  /** What the lock protects, for messages ("run runs/t", "sweep cell transformer_s1"). */
  what: string;
  /** The message when a live process holds it (default: "<what> is in use by process P on H"). */
  busyMessage?: (h: LockHolder) => string;
  /** The hint when a live process holds it. */
  busyHint?: string;
}

export interface Lock {
  file: string;
  /** Give the lock back (only if this process still holds it). Idempotent. */
  release(): void;
}

function parseHolder(line: string): LockHolder | undefined {
  const [pidStr, host] = line.trim().split(/\s+/);
  const pid = Number(pidStr);
  if (!Number.isInteger(pid) || pid <= 0 || !host) return undefined;
  return { pid, host, line };
}

/** Whether the holder still runs (on another host: assumed yes). */
export function holderAlive(h: LockHolder): boolean {
  if (h.host !== os.hostname()) return true;
  if (h.pid === process.pid) return true;
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

function readLine(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw fromSystemError(e, { file, doing: 'read the lock file' });
  }
}

/** Create `file` holding `line`, atomically and only if it does not exist. False if it exists. */
function createExclusive(file: string, line: string): boolean {
  const tmp = `${file}.new-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    fs.writeFileSync(tmp, line, { flag: 'wx' });
  } catch (e) {
    throw fromSystemError(e, { file, doing: 'create the lock file' });
  }
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EEXIST') return false;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      // No hard links here: an exclusive create (its content is written just after).
      try {
        fs.writeFileSync(file, line, { flag: 'wx' });
        return true;
      } catch (e2) {
        if ((e2 as { code?: string }).code === 'EEXIST') return false;
        throw fromSystemError(e2, { file, doing: 'create the lock file' });
      }
    }
    throw fromSystemError(e, { file, doing: 'create the lock file' });
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Take the lock at `file` or throw BUSY naming its live holder. */
export function acquireLock(file: string, opts: LockOptions): Lock {
  const me = `${process.pid} ${os.hostname()} ${crypto.randomBytes(8).toString('hex')}\n`;
  const deadline = Date.now() + 5000;
  for (;;) {
    if (createExclusive(file, me)) {
      let released = false;
      return {
        file,
        release() {
          if (released) return;
          released = true;
          try {
            if (fs.readFileSync(file, 'utf8') === me) fs.rmSync(file, { force: true });
          } catch {
            // already gone, or the folder went read-only: nothing to give back
          }
        },
      };
    }
    const line = readLine(file);
    if (line === undefined) continue; // released meanwhile: try again
    const h = parseHolder(line);
    if (!h) {
      // Empty or garbled: a lock being written by the fallback create, or a damaged file.
      const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
      if (age < 2000 && Date.now() < deadline) {
        sleep(20);
        continue;
      }
    } else if (holderAlive(h)) {
      throw new GroundlabError('BUSY', opts.busyMessage?.(h) ?? `${opts.what} is in use by process ${h.pid} on ${h.host}`, {
        file,
        hint: opts.busyHint ?? 'wait for that process to finish, or stop it',
      });
    }
    // Stale: the one process that creates the takeover file for this exact line removes it.
    const token = `${file}.takeover-${crypto.createHash('sha1').update(line).digest('hex').slice(0, 12)}`;
    if (createExclusive(token, me)) {
      try {
        if (readLine(file) === line) fs.rmSync(file, { force: true });
      } finally {
        fs.rmSync(token, { force: true });
      }
      continue;
    }
    // Someone else is taking it over (or died doing so: then its token is stale too).
    const tokenLine = readLine(token);
    const taker = tokenLine !== undefined ? parseHolder(tokenLine) : undefined;
    if (taker && !holderAlive(taker) && readLine(file) === line) {
      throw new GroundlabError('BUSY', `${opts.what}: a takeover of the stale lock was interrupted (process ${taker.pid} is gone)`, {
        file,
        hint: `no process holds it: delete ${file} and ${token}, then retry`,
      });
    }
    if (Date.now() > deadline)
      throw new GroundlabError('BUSY', `${opts.what}: could not take the lock within 5 s`, {
        file,
        hint: 'another process keeps taking it; retry',
      });
    sleep(5);
  }
}

/** The lock's current holder, if any (for status displays). */
export function lockHolder(file: string): (LockHolder & { alive: boolean }) | undefined {
  const line = readLine(file);
  const h = line !== undefined ? parseHolder(line) : undefined;
  return h ? { ...h, alive: holderAlive(h) } : undefined;
}

/** Remove leftovers of lock creation by processes that are gone (`<lock>.new-<pid>-*`). */
export function removeStaleLockTemps(file: string): void {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.new-(\\d+)-`).exec(n);
    if (m && !holderAlive({ pid: Number(m[1]), host: os.hostname(), line: '' })) fs.rmSync(path.join(dir, n), { force: true });
  }
}
