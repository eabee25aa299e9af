/**
 * Named fault points, for the tests that kill a process at an exact moment (mid-write of a file,
 * right after a checkpoint is renamed into place). `GROUNDLAB_KILL_AT=<point>[#<n>]` makes the n-th
 * (default: first) arrival at `<point>` kill the process with SIGKILL, so no cleanup code runs, just
 * as with `kill -9`. Unset (always, outside those tests), a fault point costs one lookup.
 *
 * Points: `mid-write:<file name>` (atomic writer: half the bytes are in the temporary file),
 * `written:<file name>` (the temporary file is complete, not yet renamed), `renamed:<file name>`
 * (the file is in place), `checkpoint-renamed` (a checkpoint folder is in place, nothing after it
 * has run).
 */
const counts = new Map<string, number>();

export function faultPoint(point: string): void {
  const spec = process.env.GROUNDLAB_KILL_AT;
  if (!spec) return;
  const m = /^(.*?)(?:#(\d+))?$/.exec(spec)!;
  if (m[1] !== point) return;
  const n = (counts.get(point) ?? 0) + 1;
  counts.set(point, n);
  if (n === Number(m[2] ?? 1)) process.kill(process.pid, 'SIGKILL');
}
