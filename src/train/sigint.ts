/**
 * Ctrl-C handling for long jobs: the first SIGINT aborts an AbortSignal (the job stops at the next
 * step and saves a checkpoint), a second one exits the process at once (code 130).
 */
export interface SigintAbort {
  signal: AbortSignal;
  /** Remove the handler (call when the job is over). */
  dispose(): void;
}

export function sigintAbort(opts: { message?: (n: number) => string; stream?: { write(s: string): unknown } } = {}): SigintAbort {
  const ctrl = new AbortController();
  const stream = opts.stream ?? process.stderr;
  let count = 0;
  const handler = () => {
    count++;
    if (count === 1) {
      stream.write(
        '\n' + (opts.message?.(count) ?? 'groundlab: interrupted; stopping after this step and saving a checkpoint (press Ctrl-C again to quit now)') + '\n',
      );
      ctrl.abort(new Error('interrupted (SIGINT)'));
    } else {
      stream.write('\ngroundlab: interrupted twice; exiting without saving\n');
      process.exit(130);
    }
  };
  process.on('SIGINT', handler);
  return {
    signal: ctrl.signal,
    dispose() {
      process.off('SIGINT', handler);
    },
  };
}
