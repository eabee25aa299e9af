/**
 * A process entry that runs the groundlab CLI; the sweep executors start cells with it, so a cell
 * runs the same build as the sweep that started it (bin/groundlab.js does the same for users).
 */
import { main } from '../cli/main';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`groundlab: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
