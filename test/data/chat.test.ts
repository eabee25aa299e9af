import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { readChatFile, readChatTree, parseChat, parseMainLine, decodeChatBytes, listChatFiles, chatOptionsFromKnobs, chatEvalFrames, type ChatOptions } from '../../src/data/chat';
import { prepareData } from '../../src/data';
import { GroundlabError, isGroundlabError } from '../../src/errors';

const FIX = path.join(__dirname, 'fixtures');
// Under `npm test` this file runs from dist/test/data; the fixtures stay in the source tree.
const fixtures = fs.existsSync(FIX) ? FIX : path.join(__dirname, '..', '..', '..', 'test', 'data', 'fixtures');
const fx = (p: string) => path.join(fixtures, p);

function turnsOf(opts: ChatOptions = {}) {
  return readChatFile(fx('constructs.cha'), opts).turns;
}
const utt = (opts: ChatOptions = {}) => turnsOf(opts).map((t) => t.utterance.join(' '));

test('headers, participants, speakers and line numbers', () => {
  const t = readChatFile(fx('constructs.cha'));
  assert.deepEqual(t.participants.map((p) => [p.code, p.role]), [['CHI', 'Target_Child'], ['MOT', 'Mother'], ['FAT', 'Father']]);
  assert.equal(t.participants[0].name, 'Ann');
  assert.ok(t.headers.some((h) => h.name === 'Languages' && h.value === 'eng'));
  assert.equal(t.turns.length, 21);
  assert.deepEqual(t.turns.slice(0, 3).map((x) => x.speaker), ['<MOT>', '<CHI>', '<CHI>']);
  assert.equal(t.turns[0].source?.line, 9);
  assert.equal(t.turns[17].speaker, '<FAT>');
});

test('%act with <bef>/<dur>/<aft> scoping; participant codes become role words; @Situation', () => {
  const [first] = turnsOf();
  assert.deepEqual(first.env.before, ['picks', 'up', 'ball<ENV>']);
  assert.deepEqual(first.env.during, ['holds', 'ball<ENV>']);
  assert.deepEqual(first.env.after, ['gives', 'ball<ENV>', 'to', 'child']);
  assert.deepEqual(first.env.situation, ['playing', 'with', 'a', 'ball<ENV>', 'in', 'the', 'kitchen']);
  assert.deepEqual(first.utterance, ['look', 'at', 'the', 'ball<LAN>']);
  const codes = turnsOf({ participantsInEnv: 'code', situationHeader: false })[0];
  assert.deepEqual(codes.env.after, ['gives', 'ball<ENV>', 'to', 'CHI'.toLowerCase()]);
  assert.deepEqual(codes.env.situation, []);
  const unscoped = turnsOf({ unscoped: 'before' })[8];
  assert.deepEqual(unscoped.env.before, ['takes', 'cup<ENV>', 'from', 'mother']);
});

test('%sit, %gpx, %com, %exp tiers, each configurable; %mor and %x tiers ignored', () => {
  const t = turnsOf();
  assert.deepEqual(t[16].env.situation, ['child', 'is', 'sitting', 'on', 'the', 'floor', 'near', 'the', 'block<ENV>']);
  assert.deepEqual(t[17].env.during, ['child', 'points', 'to', 'the', 'moon<ENV>']); // %gpx; %com and %exp dropped by default
  const all = turnsOf({ tiers: { com: 'situation', exp: 'events', gpx: 'drop', sit: 'events' } });
  assert.deepEqual(all[17].env.situation, ['father', 'comes', 'in', 'with', 'a', 'hat<ENV>']);
  assert.deepEqual(all[17].env.during, ['the', 'bottle<ENV>', 'fell']);
  assert.deepEqual(all[16].env.during, ['child', 'is', 'sitting', 'on', 'the', 'floor', 'near', 'the', 'block<ENV>']);
});

test('retracing and repetition [/] [//] [///], scoped <...>, [x N]', () => {
  const u = utt();
  assert.equal(u[1], 'i want the dog<LAN>');
  assert.equal(u[2], 'the dog<LAN> is here');
  assert.equal(u[3], 'look a truck<LAN>');
  assert.equal(u[17], 'no');
  const k = utt({ retracing: 'keep', repetitions: 'expand' });
  assert.equal(k[1], 'i want the dog<LAN> the dog<LAN>');
  assert.equal(k[2], 'the cat<LAN> dog<LAN> is here');
  assert.equal(k[3], 'you have look a truck<LAN>');
  assert.equal(k[17], 'no no no');
});

test('replacements [: ...]', () => {
  assert.equal(utt()[4], 'went away');
  assert.equal(utt({ replacements: 'original' })[4], 'goed away');
});

test('xxx, yyy, www', () => {
  assert.equal(utt()[5], 'ball<LAN>');
  assert.equal(utt({ untranscribed: 'keep' })[5], 'xxx ball<LAN> yyy www');
});

test('events &=laughs: ENV during the turn, dropped, or kept', () => {
  const t = turnsOf()[6];
  assert.deepEqual(t.env.during, ['laughs', 'claps', 'hand<ENV>']);
  assert.equal(t.utterance.join(' '), 'that is funny');
  assert.deepEqual(turnsOf({ events: 'drop' })[6].env.during, []);
  assert.equal(utt({ events: 'keep' })[6], 'laughs that is funny claps hand<LAN>');
});

test('fillers &-uh and fragments &+fr', () => {
  assert.equal(utt()[7], 'the book<LAN>');
  assert.equal(utt({ fillers: 'keep', fragments: 'keep' })[7], 'uh the bo book<LAN>');
});

test('0: action without speech keeps the turn and its ENV', () => {
  const t = turnsOf()[8];
  assert.deepEqual(t.utterance, []);
  assert.deepEqual(t.env.during, ['takes', 'cup<ENV>', 'from', 'mother']);
});

test('precodes, postcodes, overlaps, [!]', () => {
  const u = utt();
  assert.equal(u[9], 'the bird<LAN> is up there');
  assert.equal(u[10], 'do you want the cookie<LAN>');
  assert.equal(u[11], 'cookie<LAN>');
  assert.equal(u[20], 'the foot<LAN> and the tooth<LAN> and three puppies');
});

test('special forms @b @l @o and plurals', () => {
  assert.equal(utt()[12], 'baba and abc and woof dog<LAN>');
  assert.equal(utt({ specialForms: 'drop', plurals: false })[12], 'and and dogs');
});

test('satellites ‡ „, pauses, incomplete words, lengthening, terminators and linkers', () => {
  const u = utt();
  assert.equal(u[13], 'mommy look the shoe<LAN> right yes');
  assert.equal(u[14], 'the ball<LAN> is red');
  assert.equal(u[15], 'because i want another apple<LAN>');
  assert.equal(utt({ incomplete: 'spoken' })[15], 'cause i want nother apple<LAN>');
  assert.equal(u[18], 'nice ball<LAN>');
  assert.equal(u[19], 'wanna go');
  assert.equal(utt({ lowercase: false })[15], 'because I want another apple<LAN>');
});

test('continuation lines join the tier above', () => {
  assert.equal(utt()[16], 'this is a very long utterance about the teddy and the block<LAN>');
});

test('main-line markup on its own', () => {
  assert.deepEqual(parseMainLine('<I want> [/] I want a ball [: toy] [*] .', { nouns: ['ball', 'toy'] }).words, ['i', 'want', 'a', 'toy<LAN>']);
  assert.deepEqual(parseMainLine('hi \u0015123_456\u0015 .', { nouns: [] }).words, ['hi']);
});

function expectErr(fn: () => unknown, code: string, file: string, line: number | undefined, re: RegExp) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof GroundlabError, String(e));
    assert.equal(e.code, code);
    assert.equal(e.file, file);
    if (line !== undefined) assert.equal(e.line, line);
    assert.match(e.message, re);
    return true;
  });
}

test('bad input: truncated, unknown tier, undeclared speaker, unbalanced, wrong encoding, binary garbage', () => {
  expectErr(() => readChatFile(fx('bad/truncated.cha')), 'PARSE', fx('bad/truncated.cha'), 6, /without @End/);
  expectErr(() => readChatFile(fx('bad/unknown-tier.cha')), 'PARSE', fx('bad/unknown-tier.cha'), 5, /unknown dependent tier %foo/);
  expectErr(() => readChatFile(fx('bad/undeclared-speaker.cha')), 'PARSE', fx('bad/undeclared-speaker.cha'), 5, /\*GRA is not declared/);
  expectErr(() => readChatFile(fx('bad/unbalanced.cha')), 'PARSE', fx('bad/unbalanced.cha'), 5, /unclosed "<"/);
  expectErr(() => readChatFile(fx('bad/latin1.cha')), 'BAD_FILE', fx('bad/latin1.cha'), 4, /not valid UTF-8/);
  expectErr(() => readChatFile(fx('bad/garbage.cha')), 'BAD_FILE', fx('bad/garbage.cha'), undefined, /binary data|UTF-8/);
  expectErr(() => decodeChatBytes(new Uint8Array(0), 'x.cha'), 'BAD_FILE', 'x.cha', undefined, /empty/);
  expectErr(() => parseChat('hello\n', 'y.cha'), 'PARSE', 'y.cha', 1, /@Begin/);
  expectErr(() => parseChat('@Begin\n@Participants:\tMOT Mother\n%act:\tx\n@End\n', 'z.cha'), 'PARSE', 'z.cha', 3, /before any main tier/);
  expectErr(() => parseChat('@Begin\n@Participants:\tMOT Mother\n*MOT:\thi .\n@End\nmore\n', 'w.cha'), 'PARSE', 'w.cha', 5, /after @End/);
});

test('folder tree: recursive, sorted, .cha only; an empty folder is an error', () => {
  const c = readChatTree(fx('tree'));
  assert.equal(c.files, 2);
  assert.deepEqual(c.episodes.map((e) => e.id), [path.join('a', 'one.cha'), path.join('b', 'c', 'two.cha')]);
  assert.deepEqual(c.episodes[1].turns[0].env.before, ['points', 'at', 'dog<ENV>']);
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-empty-'));
  try {
    assert.throws(() => listChatFiles(empty), (e) => isGroundlabError(e) && e.code === 'NOT_FOUND' && /no \.cha files/.test(e.message));
  } finally {
    fs.rmSync(empty, { recursive: true });
  }
  assert.throws(() => readChatTree(path.join(fixtures, 'nope')), (e) => isGroundlabError(e) && e.code === 'NOT_FOUND');
});

test('a bad file in a tree: an error naming it by default, skipped with a warning under onError "skip"', () => {
  assert.throws(() => readChatTree(fixtures), (e) => isGroundlabError(e) && e.file !== undefined && e.file.includes(path.join('bad', '')));
  const warned: string[] = [];
  const c = readChatTree(fixtures, { onError: 'skip', warn: (w) => warned.push(w.file) });
  assert.equal(c.skipped, 6);
  assert.equal(c.episodes.length, 3);
  assert.deepEqual(warned.map((f) => path.basename(f)).sort(), ['garbage.cha', 'latin1.cha', 'truncated.cha', 'unbalanced.cha', 'undeclared-speaker.cha', 'unknown-tier.cha']);
  assert.ok(c.warnings.every((w) => /skipped/.test(w.message)));
});

test('options from spec knobs; prepareData reads a chat folder', async () => {
  assert.deepEqual(chatOptionsFromKnobs({ retracing: 'keep', 'tier.com': 'situation', plurals: 'false' }), { retracing: 'keep', plurals: false, tiers: { com: 'situation' } });
  assert.throws(() => chatOptionsFromKnobs({ retracing: 'maybe' }), (e) => isGroundlabError(e) && e.code === 'BAD_CONFIG');
  assert.throws(() => chatOptionsFromKnobs({ colour: 'red' }), (e) => isGroundlabError(e) && e.code === 'BAD_CONFIG');
  const d = await prepareData({ kind: 'chat', path: fx('tree') }, { seqLen: 8 });
  assert.equal(d.episodes.length, 2);
  assert.equal(d.stats.nouns.length, 100);
  assert.deepEqual(d.nouns, []); // nothing reaches 100 of each form in two tiny files
  assert.ok(d.evalFrames.length > 0);
  const b = d.stats.nouns.find((n) => n.noun === 'ball')!;
  assert.deepEqual([b.env, b.lan], [1, 2]);
});

test('chatEvalFrames drops candidates that occur in the corpus', () => {
  const ep = { id: 'x', turns: [
    { speaker: '<CHI>', env: { situation: [], before: ['ball<ENV>'], during: [], after: [] }, utterance: [] },
    { speaker: '<MOT>', env: { situation: [], before: [], during: [], after: [] }, utterance: ['look', 'at', 'the', 'ball<LAN>'] },
  ] };
  const ids = chatEvalFrames([ep]).map((f) => f.id);
  assert.ok(!ids.includes('chi-env/mot-look-at-the'));
  assert.ok(ids.includes('mot-env/do-you-want-the'));
});

test('property: the reader throws nothing but GroundlabError on any input', () => {
  const pieces = ['@UTF8', '@Begin', '@End', '@Participants:\tCHI Target_Child, MOT Mother', '*MOT:\t', '*CHI:\t', '%act:\t', '%sit:\t', '%com:\t', '%foo:\t', '\t', '<', '>', '[/]', '[//]', '[: x]', '[x 2]', '[<]', '&=laughs', '&-uh', '&+fr', '0', 'xxx', 'ball', 'dog@o', '(.)', '(be)cause', '‡', '„', '<bef>', '<aft>', '[', ']', '+...', ' ', '\n', '.', '?', '\u0015', '@', '*', '%', ':'];
  const chatish = fc.array(fc.constantFrom(...pieces), { maxLength: 60 }).map((xs) => xs.join(''));
  fc.assert(
    fc.property(fc.oneof(chatish, fc.string(), fc.uint8Array({ maxLength: 200 })), (input) => {
      try {
        if (typeof input === 'string') {
          parseChat(input, 'p.cha');
          parseChat(decodeChatBytes(new TextEncoder().encode(input), 'p.cha'), 'p.cha', { retracing: 'keep', events: 'keep', untranscribed: 'keep' });
        } else parseChat(decodeChatBytes(input, 'p.cha'), 'p.cha');
      } catch (e) {
        if (!(e instanceof GroundlabError)) throw e;
        if (!['PARSE', 'BAD_FILE'].includes(e.code) || e.file !== 'p.cha') throw e;
      }
    }),
    { numRuns: 3000, seed: 42 },
  );
});

/** A generated transcript of typical size (about 400 utterances with dependent tiers). */
function typicalTranscript(k: number): string {
  const lines = ['@UTF8', '@Begin', '@Languages:\teng', '@Participants:\tCHI Target_Child, MOT Mother, FAT Father', '@ID:\teng|gen|CHI|2;0.|||||Target_Child|||', `@Comment:\tgenerated ${k}`];
  const nouns = ['ball', 'dog', 'book', 'cup', 'shoe', 'car', 'apple', 'bird'];
  for (let i = 0; i < 400; i++) {
    const n = nouns[(i * 7 + k) % nouns.length];
    const spk = i % 3 === 0 ? 'CHI' : i % 7 === 0 ? 'FAT' : 'MOT';
    lines.push(`*${spk}:\t<look at> [/] look at the ${n} [: ${n}s] &=laughs &-uh (.) xxx nice@b ${n} [x 2] .`);
    if (i % 2 === 0) lines.push(`%act:\t<bef> ${spk} picks up the ${n} <aft> gives ${n} to CHI`);
    if (i % 5 === 0) lines.push(`%mor:\tdet|the n|${n} .`);
    if (i % 9 === 0) lines.push(`%sit:\tplaying with the ${n} on the floor`);
  }
  lines.push('@End');
  return lines.join('\n') + '\n';
}

test('speed: a folder of 1,000 typical transcripts reads in seconds', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-chat-'));
  try {
    let bytes = 0;
    for (let k = 0; k < 1000; k++) {
      const sub = path.join(dir, `c${k % 10}`);
      fs.mkdirSync(sub, { recursive: true });
      const text = typicalTranscript(k);
      bytes += text.length;
      fs.writeFileSync(path.join(sub, `f${k}.cha`), text);
    }
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const c = readChatTree(dir);
    const cpu = process.cpuUsage(cpu0);
    const s = (performance.now() - t0) / 1000;
    const cpuS = (cpu.user + cpu.system) / 1e6;
    assert.equal(c.episodes.length, 1000);
    assert.equal(c.episodes[0].turns.length, 400);
    console.log(`# read 1000 CHAT files (${(bytes / 1e6).toFixed(1)} MB, 400,000 utterances): ${s.toFixed(2)} s wall, ${cpuS.toFixed(2)} s CPU`);
    // CPU time, not wall time: the machine may be shared while the suite runs.
    assert.ok(cpuS < 30, `${cpuS} s CPU`);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('tolerates trailing spaces on headers and CRLF line ends', () => {
  const t = parseChat('@UTF8 \r\n@Begin  \r\n@Participants:\tMOT Mother\r\n*MOT:\tthe ball .\r\n%wor:\tthe ball .\r\n@End \r\n', 'crlf.cha');
  assert.deepEqual(t.turns[0].utterance, ['the', 'ball<LAN>']);
});

test('an utterance or %act tier of 200,000 words reads (no call-stack overflow), also from a tree under skip', () => {
  const n = 200_000;
  const words = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 'ball' : `w${i % 50}`)).join(' ');
  const text = `@UTF8\n@Begin\n@Participants:\tMOT Mother\n*MOT:\t${words} &=${Array.from({ length: n }, () => 'x').join('_')} .\n%act:\t${Array.from({ length: n }, () => 'ball').join(' ')}\n@End\n`;
  const t = parseChat(text, 'long.cha');
  assert.equal(t.turns[0].utterance.length, n);
  assert.equal(t.turns[0].utterance[0], 'ball<LAN>');
  assert.equal(t.turns[0].env.during.length, 2 * n);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-long-'));
  try {
    fs.writeFileSync(path.join(dir, 'long.cha'), text);
    const c = readChatTree(dir, { onError: 'skip' });
    assert.equal(c.skipped, 0);
    assert.equal(chatEvalFrames(c.episodes).length > 0, true);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('UTF-16 transcripts (with or without a byte order mark) are named as such; a file of headers only says so', () => {
  const text = '@UTF8\n@Begin\n@Participants:\tMOT Mother\n*MOT:\tlook .\n@End\n';
  const le = Buffer.from(text, 'utf16le');
  const be = Buffer.from(le).swap16();
  for (const [bytes, order] of [
    [Buffer.concat([Buffer.from([0xff, 0xfe]), le]), 'little-endian'],
    [Buffer.concat([Buffer.from([0xfe, 0xff]), be]), 'big-endian'],
    [le, 'little-endian'],
    [be, 'big-endian'],
  ] as const) {
    expectErr(() => decodeChatBytes(bytes, 'u.cha'), 'BAD_FILE', 'u.cha', undefined, new RegExp(`UTF-16 \\(${order}\\) text, not UTF-8[\\s\\S]*iconv -f UTF-16 -t UTF-8`));
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-headers-'));
  try {
    const only = '@UTF8\n@Begin\n@Participants:\tMOT Mother, CHI Target_Child\n@Situation:\tplaying\n@End\n';
    fs.writeFileSync(path.join(dir, 'a.cha'), only);
    expectErr(() => readChatTree(path.join(dir, 'a.cha')), 'BAD_FILE', path.join(dir, 'a.cha'), undefined, /the transcript has headers only: no utterance \(main tier\) to read[\s\S]*\*MOT:/);
    fs.writeFileSync(path.join(dir, 'b.cha'), only);
    expectErr(() => readChatTree(dir), 'BAD_FILE', undefined as unknown as string, undefined, /2 transcripts have headers only: no utterance \(main tier\) to read: a\.cha, b\.cha/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});
