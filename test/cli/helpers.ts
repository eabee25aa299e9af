/** Run the CLI in-process and capture the text it writes. Not a test file itself. */
import { main } from '../../src/cli/main';

export async function runCli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  // Only text is captured: the node:test runner reports to the parent process through binary
  // (serialized) writes on stdout, which must pass through.
  process.stdout.write = ((s: string | Uint8Array, ...rest: unknown[]) =>
    typeof s === 'string' ? (out.push(s), true) : (ow as (...a: unknown[]) => boolean)(s, ...rest)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array, ...rest: unknown[]) =>
    typeof s === 'string' ? (err.push(s), true) : (ew as (...a: unknown[]) => boolean)(s, ...rest)) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}
