/**
 * The CLI as a child process, for tests that send signals (not a test file: it does nothing when
 * the test runner loads it without arguments).
 */
import { main } from '../../src/cli/main';

if (process.argv.length > 2 && process.env.GROUNDLAB_TEST_CHILD === '1') {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
