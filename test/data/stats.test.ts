import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { corpusStats, formatStats, type Episode } from '../../src/data';

const turn = (speaker: string, env: string[], utterance: string[]) => ({ speaker, env: { situation: [], before: env, during: [], after: [] }, utterance });

test('per-noun ENV, LAN, co-occurrence within a window, and the filter', () => {
  const eps: Episode[] = [
    { id: 'a', turns: [turn('<MOT>', ['holds', 'ball<ENV>'], ['the', 'ball<LAN>']), turn('<CHI>', [], ['ball<LAN>'])] },
    { id: 'b', turns: [turn('<MOT>', ['dog<ENV>'], ['x', 'x', 'x', 'x', 'x', 'dog<LAN>']), turn('<MOT>', [], ['ball<LAN>'])] },
  ];
  const st = corpusStats(eps, { nouns: ['ball', 'dog', 'cat'], window: 4, minCount: 1 });
  const [ball, dog, cat] = st.nouns;
  assert.deepEqual([ball.env, ball.lan, ball.cooc, ball.envFollowed], [1, 3, 2, 1]); // the ball<LAN> in episode b has no ENV
  assert.deepEqual([dog.env, dog.lan, dog.cooc, dog.envFollowed], [1, 1, 0, 0]); // 6 tokens apart > window 4
  assert.deepEqual([cat.env, cat.lan], [0, 0]);
  assert.deepEqual(st.passing, ['ball', 'dog']);
  assert.equal(st.episodes, 2);
  assert.equal(st.turns, 4);
  assert.equal(st.tokens, 5 + 2 + 8 + 2);
  const st2 = corpusStats(eps, { nouns: ['ball', 'dog'], minCount: 2 });
  assert.deepEqual(st2.passing, []);
  assert.match(formatStats(st, { perNoun: true }), /passing the filter.*: 2/);
});
