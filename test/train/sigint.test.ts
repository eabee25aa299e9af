import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sigintAbort } from '../../src/train/sigint';

test('SIGTERM aborts like the first Ctrl-C; a different signal after it (a scheduler, then the parent) does not quit', () => {
  const lines: string[] = [];
  const a = sigintAbort({ stream: { write: (s: string) => lines.push(s) } });
  try {
    assert.equal(a.signal.aborted, false);
    process.emit('SIGTERM', 'SIGTERM');
    assert.equal(a.signal.aborted, true);
    assert.match(lines.join(''), /terminated \(SIGTERM\); stopping after this step and saving a checkpoint/);
    process.emit('SIGINT', 'SIGINT'); // would exit the test process if it counted as the second stop
    assert.match(lines.join(''), /SIGINT received; already stopping \(send SIGTERM again to quit now\)/);
  } finally {
    a.dispose();
  }
  assert.equal(process.listenerCount('SIGTERM'), 0);
});
