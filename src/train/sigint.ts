/**
 * Ctrl-C handling for long jobs: the first SIGINT or SIGTERM aborts an AbortSignal (the job stops at
 * the next step and saves a checkpoint); the same signal again exits the process at once (code 130).
 * A different signal after the first (a scheduler's SIGTERM to every process, then the parent's
 * SIGINT) is the same stop request and is only noted.
 */
export interface SigintAbort {
  signal: AbortSignal;
  /** Remove the handlers (call when the job is over). */
  dispose(): void;
}

export function sigintAbort(opts: { message?: (n: number) => string; stream?: { write(s: string): unknown } } = {}): SigintAbort {
  const ctrl = new AbortController();
  const stream = opts.stream ?? process.stderr;
  let first: NodeJS.Signals | undefined;
  let count = 0;
  const handler = (sig: NodeJS.Signals) => {
    count++;
    if (first === undefined) {
      first = sig;
      const why = sig === 'SIGTERM' ? 'terminated (SIGTERM)' : 'interrupted';
      const msg =
        opts.message?.(count) ?? `groundlab: ${why}; stopping after this step and saving a checkpoint (press Ctrl-C again to quit now)`;
      stream.write('\n' + msg + '\n');
      ctrl.abort(new Error(`${why}`));
    } else if (sig === first) {
      stream.write(`\ngroundlab: ${sig === 'SIGTERM' ? 'terminated' : 'interrupted'} twice; exiting without saving\n`);
      process.exit(130);
    } else {
      stream.write(`\ngroundlab: ${sig} received; already stopping (send ${first} again to quit now)\n`);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: ctrl.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
