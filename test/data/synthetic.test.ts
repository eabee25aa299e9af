import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  SYNTHETIC_EVAL_FRAMES,
  SYNTHETIC_SETTINGS,
  generateSynthetic,
  syntheticKnobs,
  episodeTokens,
  isEnvToken,
  isLanToken,
  baseForm,
  WordTokenizer,
  syntheticNouns,
} from '../../src/data';
import { isGroundlabError } from '../../src/errors';

const small = (setting: string, extra: Record<string, number> = {}) => syntheticKnobs(setting, { episodes: 400, ...extra });

test('same seed gives byte-identical corpora; another seed does not', () => {
  for (const s of ['simple', 'realistic']) {
    const a = JSON.stringify(generateSynthetic(small(s), 7));
    const b = JSON.stringify(generateSynthetic(small(s), 7));
    const c = JSON.stringify(generateSynthetic(small(s), 8));
    assert.equal(a, b);
    assert.notEqual(a, c);
  }
});

test('episode i does not depend on the number of episodes', () => {
  const a = generateSynthetic(syntheticKnobs('realistic', { episodes: 10 }), 3);
  const b = generateSynthetic(syntheticKnobs('realistic', { episodes: 50 }), 3);
  assert.deepEqual(a, b.slice(0, 10));
});

test('bad settings and knobs are GroundlabErrors', () => {
  assert.throws(() => syntheticKnobs('nope'), (e) => isGroundlabError(e) && e.code === 'BAD_CONFIG');
  assert.throws(() => syntheticKnobs('simple', { pUnnamed: 2 }), (e) => isGroundlabError(e) && /pUnnamed/.test(e.message));
  assert.throws(() => syntheticKnobs('simple', { episodes: 1.5 }), (e) => isGroundlabError(e) && e.code === 'BAD_CONFIG');
  assert.throws(() => syntheticKnobs('simple', { colour: 1 }), (e) => isGroundlabError(e) && /unknown synthetic knob/.test(e.message));
  assert.equal(syntheticKnobs('simple', { episodes: '12' as unknown as number }).episodes, 12);
});

test('the simple setting is clean: every ENV object is named in the same turn, after its event', () => {
  for (const ep of generateSynthetic(small('simple'), 1)) {
    for (const t of ep.turns) {
      const envs = [...t.env.situation, ...t.env.before, ...t.env.during, ...t.env.after].filter(isEnvToken).map(baseForm);
      const lans = t.utterance.filter(isLanToken).map(baseForm);
      for (const e of envs) assert.ok(lans.includes(e), `ENV ${e} not named in its turn`);
      assert.equal(t.env.after.filter(isEnvToken).length, 0);
    }
    // every noun named in an episode has an ENV event in it
    const toks = episodeTokens(ep);
    for (const l of toks.filter(isLanToken)) assert.ok(toks.includes(baseForm(l) + '<ENV>'));
  }
});

function counts(knobs: ReturnType<typeof syntheticKnobs>, seed = 2) {
  let env = 0;
  let lan = 0;
  let lanNoEnv = 0;
  let envNoLan = 0;
  for (const ep of generateSynthetic(knobs, seed)) {
    const toks = episodeTokens(ep);
    const envs = new Set(toks.filter(isEnvToken).map(baseForm));
    const lans = new Set(toks.filter(isLanToken).map(baseForm));
    env += toks.filter(isEnvToken).length;
    lan += toks.filter(isLanToken).length;
    for (const l of lans) if (!envs.has(l)) lanNoEnv++;
    for (const e of envs) if (!lans.has(e)) envNoLan++;
  }
  return { env, lan, lanNoEnv, envNoLan };
}

test('noise knobs do what they say', () => {
  const clean = counts(small('simple'));
  assert.equal(clean.lanNoEnv, 0);
  assert.equal(clean.envNoLan, 0);
  // ENV without a later mention
  const unnamed = counts(small('simple', { pUnnamed: 1 }));
  assert.equal(unnamed.lan, 0);
  assert.ok(unnamed.env > 0);
  // a mention without ENV
  const noEnv = counts(small('simple', { pNoEnv: 1 }));
  assert.equal(noEnv.env, 0);
  assert.ok(noEnv.lan > 0);
  // absent referents: named, never present
  const absent = counts(small('simple', { pAbsent: 1 }));
  assert.equal(absent.lanNoEnv, 400);
  // distractors: present, not named
  const distract = counts(small('simple', { distractors: 3, pNameDistractor: 0 }));
  assert.ok(distract.envNoLan > 300);
  // ENV -> LAN distance: with maxDistance 0 the mention shares the turn; with 4 it often does not
  const far = generateSynthetic(small('simple', { maxDistance: 4 }), 5);
  let later = 0;
  for (const ep of far) for (const t of ep.turns) if (t.utterance.some(isLanToken) && ![...t.env.before, ...t.env.during].some(isEnvToken)) later++;
  assert.ok(later > 100, `only ${later} mentions in a later turn`);
});

test('zipf skews noun frequencies; 0 keeps them flat', () => {
  const freq = (z: number) => {
    const m = new Map<string, number>();
    for (const ep of generateSynthetic(syntheticKnobs('simple', { episodes: 3000, zipf: z }), 4))
      for (const t of episodeTokens(ep)) if (isEnvToken(t)) m.set(t, (m.get(t) ?? 0) + 1);
    const v = [...m.values()].sort((a, b) => a - b);
    return v[v.length - 1] / v[0];
  };
  assert.ok(freq(0) < 2.5);
  assert.ok(freq(1.2) > 10);
});

function occurs(stream: string[], pattern: string[]): boolean {
  outer: for (let i = 0; i + pattern.length <= stream.length; i++) {
    for (let j = 0; j < pattern.length; j++) {
      const p = pattern[j];
      if (p === '{ENV}' ? !isEnvToken(stream[i + j]) : stream[i + j] !== p) continue outer;
    }
    return true;
  }
  return false;
}

test('evaluation frames are held out: never emitted in training, all words known', () => {
  for (const s of Object.keys(SYNTHETIC_SETTINGS)) {
    for (const seed of [0, 1]) {
      const knobs = syntheticKnobs(s, { episodes: 3000 });
      const eps = generateSynthetic(knobs, seed);
      const stream = eps.flatMap(episodeTokens);
      const tok = WordTokenizer.fromEpisodes(eps, { nouns: syntheticNouns(knobs) });
      for (const f of SYNTHETIC_EVAL_FRAMES) {
        assert.equal(f.tokens.filter((t) => t === '{ENV}').length, 1);
        const lastSpk = Math.max(...f.tokens.map((t, i) => (/^<[A-Z]+>$/.test(t) ? i : -1)));
        const slot = f.tokens.indexOf('{ENV}');
        assert.ok(!occurs(stream, f.tokens.slice(lastSpk)), `${s}: "${f.tokens.slice(lastSpk).join(' ')}" occurs in training`);
        // the turn holding the ENV slot (up to the next speaker token)
        let end = slot + 1;
        while (end < f.tokens.length && !/^<[A-Z]+>$/.test(f.tokens[end])) end++;
        assert.ok(!occurs(stream, f.tokens.slice(0, end)), `${s}: "${f.tokens.slice(0, end).join(' ')}" occurs in training`);
        assert.ok(!occurs(stream, f.tokens), `${s}: frame ${f.id} occurs in training`);
        for (const t of f.tokens) if (t !== '{ENV}') assert.ok(tok.has(t), `${s}: frame word "${t}" is not in the training vocabulary`);
      }
    }
  }
});

test('generation is fast: the simple default in well under two seconds', () => {
  const t0 = performance.now();
  const eps = generateSynthetic(syntheticKnobs('simple'), 0);
  const ms = performance.now() - t0;
  const n = eps.reduce((a, e) => a + episodeTokens(e).length, 0);
  assert.ok(n > 100_000);
  assert.ok(ms < 2000, `${ms} ms`);
});

test('property: any valid knobs generate; without pNoEnv and pAbsent every named noun is present', async () => {
  const fc = (await import('fast-check')).default;
  fc.assert(
    fc.property(
      fc.record({
        nouns: fc.integer({ min: 2, max: 100 }),
        topics: fc.integer({ min: 1, max: 5 }),
        distractors: fc.integer({ min: 0, max: 10 }),
        pNameDistractor: fc.double({ min: 0, max: 1, noNaN: true }),
        pUnnamed: fc.double({ min: 0, max: 1, noNaN: true }),
        maxDistance: fc.integer({ min: 0, max: 6 }),
        mentions: fc.integer({ min: 1, max: 4 }),
        envEvents: fc.integer({ min: 1, max: 4 }),
        pFiller: fc.double({ min: 0, max: 0.95, noNaN: true }),
        pChild: fc.double({ min: 0, max: 1, noNaN: true }),
        zipf: fc.double({ min: 0, max: 3, noNaN: true }),
      }),
      fc.integer({ min: 0, max: 1000 }),
      (over, seed) => {
        const k = syntheticKnobs('realistic', { ...over, episodes: 20, pNoEnv: 0, pAbsent: 0 });
        const eps = generateSynthetic(k, seed);
        assert.equal(eps.length, 20);
        const allowed = new Set(syntheticNouns(k));
        for (const ep of eps) {
          const toks = episodeTokens(ep);
          const envs = new Set(toks.filter(isEnvToken).map(baseForm));
          for (const t of toks) {
            if (isEnvToken(t) || isLanToken(t)) assert.ok(allowed.has(baseForm(t)));
            if (isLanToken(t)) assert.ok(envs.has(baseForm(t)), `${t} named but never present`);
          }
        }
      },
    ),
    { numRuns: 150, seed: 7 },
  );
});
