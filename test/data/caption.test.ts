import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CAPTION_EVAL_FRAMES, DIALOG_SETTINGS, dialogKnobs, generateCaptionDialog, episodeTokens, isEnvToken, isLanToken, baseForm, WordTokenizer, nounSubset } from '../../src/data';
import { isGroundlabError } from '../../src/errors';

const small = (s: string, extra: Record<string, number> = {}) => dialogKnobs(s, { episodes: 300, ...extra });

test('caption dialogue: deterministic, caption turn is ENV, Q/A turns are LAN', () => {
  const a = generateCaptionDialog(small('realistic'), 4);
  assert.equal(JSON.stringify(a), JSON.stringify(generateCaptionDialog(small('realistic'), 4)));
  assert.notEqual(JSON.stringify(a), JSON.stringify(generateCaptionDialog(small('realistic'), 5)));
  for (const ep of a) {
    assert.equal(ep.turns[0].speaker, '<CAP>');
    assert.ok(ep.turns[0].utterance.length === 0);
    for (const t of ep.turns.slice(1)) {
      assert.ok(t.speaker === '<Q>' || t.speaker === '<A>');
      assert.ok(!t.utterance.some(isEnvToken));
    }
  }
  assert.throws(() => dialogKnobs('simple', { rounds: 0 }), (e) => isGroundlabError(e) && e.code === 'BAD_CONFIG');
  assert.throws(() => dialogKnobs('other'), (e) => isGroundlabError(e));
});

test('caption noise knobs: clean simple setting, unnamed objects, absent referents', () => {
  const stat = (k: ReturnType<typeof dialogKnobs>) => {
    let lanNoEnv = 0;
    let envNoLan = 0;
    for (const ep of generateCaptionDialog(k, 1)) {
      const toks = episodeTokens(ep);
      const envs = new Set(toks.filter(isEnvToken).map(baseForm));
      const lans = new Set(toks.filter(isLanToken).map(baseForm));
      for (const l of lans) if (!envs.has(l)) lanNoEnv++;
      for (const e of envs) if (!lans.has(e)) envNoLan++;
    }
    return { lanNoEnv, envNoLan };
  };
  assert.deepEqual(stat(small('simple')), { lanNoEnv: 0, envNoLan: 0 });
  assert.ok(stat(small('simple', { pUnnamed: 0.5 })).envNoLan > 50);
  assert.ok(stat(small('simple', { pAbsent: 0.5 })).lanNoEnv > 50);
  assert.ok(stat(small('simple', { pNoEnv: 0.5 })).lanNoEnv > 50);
});

test('caption evaluation frames are held out and use known words', () => {
  for (const s of Object.keys(DIALOG_SETTINGS)) {
    const k = dialogKnobs(s, { episodes: 3000 });
    const eps = generateCaptionDialog(k, 0);
    const text = ' ' + eps.map((e) => episodeTokens(e).map((t) => (isEnvToken(t) ? '{ENV}' : t)).join(' ')).join(' | ') + ' ';
    const tok = WordTokenizer.fromEpisodes(eps, { nouns: nounSubset(k.nouns).map((n) => n.noun) });
    for (const f of CAPTION_EVAL_FRAMES) {
      const q = f.tokens.lastIndexOf('<Q>');
      assert.ok(!text.includes(' ' + f.tokens.slice(0, q).join(' ') + ' '), `${s}: caption of ${f.id} occurs`);
      assert.ok(!text.includes(' ' + f.tokens.slice(q, q + 5).join(' ')), `${s}: question of ${f.id} occurs`);
      for (const t of f.tokens) if (t !== '{ENV}') assert.ok(tok.has(t), `${s}: "${t}" unknown`);
    }
  }
});
