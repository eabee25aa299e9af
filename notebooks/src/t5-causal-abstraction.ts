// %% [markdown]
// # Teaching 5 · Causal abstraction: interchange interventions and DAS
//
// Goals: read a symbolic program as a causal model with named variables; compute a counterfactual
// by hand; do an interchange intervention on a subspace, `h' = h + (s - h) W W^T`, by hand; learn
// the subspace (DAS) on a hand-built model whose answer is known; then ask the same question of a
// trained GRU, with the baselines that make an IIA believable. Method and format: `docs/causal.md`.
//
// **Runtime** (`quick`, this project's shared 2-core machine under a load average of about 7): 79 s
// once the GRU of notebook 12 exists (`runs/reproduce-<preset>/counting/gru-multi`); 133 s the
// first time, which trains it (56 s).

// %%
import { tf, initEngine, train, openRun, labDir, labPreset, countingTokenizer, countingSequence, Rng, causalProgram, trace, counterfactual,
  sampleCounterfactuals, encodePairs, interchange, evaluateIia, fitDas, identitySubspace, randomSubspace, padIdOf, plantedCounter, siteFor,
  display, progressDisplay, interruptSignal } from "groundlab";
import * as aq from "arquero";
import * as path from "node:path";
await initEngine({ log: false });
const tok = countingTokenizer({ task: "multi", objectTypes: 3 });
const seq = countingSequence({ task: "multi", objectTypes: 3 }, 3, new Rng(0));
seq.tokens.join(" ")

// %% [markdown]
// **Exercise 1.** Write Up-Down by hand: after each token, the count (+1 per demo object, -1 per
// response) and the phase (1 from the trigger on). Check your trace against
// `trace(causalProgram("up-down"), seq.roles)`.

// %%
// Solution 1
const mine: Array<{ count: number; phase: number }> = [];
let count = 0, phase = 0;
for (const r of seq.roles) {
  if (r === "demo") count++;
  else if (r === "trigger") phase = 1;
  else if (r === "response") count--;
  mine.push({ count, phase });
}
const lib = trace(causalProgram("up-down"), seq.roles);
({ mine: mine.map((s) => s.count).join(","), library: lib.map((s) => s.count).join(","), same: JSON.stringify(mine) === JSON.stringify(lib) })

// %% [markdown]
// **Exercise 2.** A counterfactual: set the count to 5 after the second demo object (step 2). How
// many responses does Up-Down now predict, and how many Up-Up? (Up-Up stores the count as its
// target at the trigger and counts up again.) Use `counterfactual(program, "multi", seq, 2, { count: 5 }, 64)`.

// %%
// Solution 2: one more demo object follows, so both programs answer 6 times; they differ when the count is set in the response phase.
const answers = (name: string, step: number, set: Record<string, number>) =>
  counterfactual(causalProgram(name), "multi", seq, step, set, 64)!.tokens.filter((t) => t === "resp").length;
({ upDownDemo: answers("up-down", 2, { count: 5 }), upUpDemo: answers("up-up", 2, { count: 5 }),
   upDownResponse: answers("up-down", 5, { count: 5 }), upUpResponse: answers("up-up", 5, { count: 1 }) })

// %% [markdown]
// **Exercise 3.** The interchange by hand. `plantedCounter` is a linear recurrence whose Up-Down
// count is exactly `u . h` for a planted unit vector u. Read the state of a base and of a source at
// one step, interchange the 1-dimensional subspace spanned by u (`W = u` as a [D, 1] matrix), and
// check that `u . h'` is the source's count while the rest of h' is the base's.

// %%
// Solution 3
const D = 12;
const toy = plantedCounter(tok, { task: "multi", dim: D, seed: 7, sharpness: 2 });
const base = countingSequence({ task: "multi", objectTypes: 3 }, 2, new Rng(1));
const source = countingSequence({ task: "multi", objectTypes: 3 }, 6, new Rng(2));
const h = toy.read(tf.tensor2d([tok.encode(base.tokens)], [1, base.tokens.length], "int32"), Int32Array.from([2]));
const s = toy.read(tf.tensor2d([tok.encode(source.tokens)], [1, source.tokens.length], "int32"), Int32Array.from([5]));
const W = tf.tensor2d(toy.u, [D, 1]);
const byHand = tf.add(h, tf.matMul(tf.matMul(tf.sub(s, h), W), W, false, true));
const dot = (x: tf.Tensor) => tf.sum(tf.mul(x, tf.tensor1d(toy.u))).dataSync()[0];
({ baseCount: dot(h), sourceCount: dot(s), intervened: dot(byHand), sameAsLibrary: tf.max(tf.abs(tf.sub(byHand, interchange(h as tf.Tensor2D, s as tf.Tensor2D, W)))).dataSync()[0] < 1e-6 })

// %% [markdown]
// **Exercise 4.** Now pretend u is unknown: learn it. Fit DAS with k = 1 on 256 counterfactual pairs
// (`sampleCounterfactuals` + `encodePairs`, then `fitDas`), score it on 200 other pairs with
// `evaluateIia`, and compare |cos(w, u)|, the identity rotation (neuron 0), a random direction and
// the full-vector swap. Which baseline would fool you if it were the only one?

// %%
// Solution 4
const draw = (n: number, seed: number) => encodePairs(sampleCounterfactuals({ program: "up-down", variables: ["count"], task: "multi", counts: [1, 2, 3, 4, 5, 6], n, seed }), tok);
const pad = padIdOf(tok);
const fitPairs = draw(256, 1);
const scorePairs = draw(200, 2);
const fit = await fitDas(toy, fitPairs, { k: 1, steps: 150, lr: 0.05, seed: 0, padId: pad });
const cos = Math.abs(Array.from(fit.w).reduce((a, w, i) => a + w * toy.u[i], 0));
const iia = async (w: Float32Array, k: number) => (await evaluateIia(toy, scorePairs, w, k, { padId: pad })).iia;
await display(aq.from([
  { subspace: "DAS k=1", IIA: await iia(fit.w, 1), "|cos(w, u)|": cos },
  { subspace: "identity (neuron 0)", IIA: await iia(identitySubspace(D, 1), 1) },
  { subspace: "random direction", IIA: await iia(randomSubspace(D, 1, 5), 1) },
  { subspace: "full-vector swap", IIA: await iia(identitySubspace(D, D), D) },
]));
// The full swap reaches 1 too: it moves everything, so it says nothing about *where* the count is.
// Only the 1-dimensional DAS subspace shows that one direction carries it.

// %% [markdown]
// **Exercise 5.** A trained GRU (the Multi-Object GRU of notebook 12). Fit DAS k = 1 at its
// recurrent state (`siteFor(model, "blocks.0.state")`) for Up-Down and for Up-Up, and compare with
// the full swap. Which program does the GRU implement?

// %%
// Solution 5
const preset = labPreset();
const gruDir = path.join(labDir(preset), "counting", "gru-multi");
const knobs = preset === "tiny" ? { maxCount: 12, heldOut: "4/9" } : {};
await train({ out: gruDir, arch: "gru", preset, seed: 0, model: { nLayers: 1 }, corpus: { kind: "counting", ...(Object.keys(knobs).length ? { knobs } : {}) },
  onProgress: progressDisplay(), signal: interruptSignal(), log: false });
const run = await openRun(gruDir);
const model = await run.loadModel();
const site = siteFor(model, "blocks.0.state");
const maxCount = preset === "tiny" ? 12 : 20;
const counts = Array.from({ length: maxCount }, (_, i) => i + 1);
const rows = [];
for (const program of ["up-down", "up-up"] as const) {
  const p = (n: number, seed: number) => encodePairs(sampleCounterfactuals({ program, variables: ["count"], task: "multi", counts, n, seed, maxLength: model.config.contextLength, maxResponses: maxCount }), run.tokenizer);
  const tr = p(preset === "tiny" ? 64 : 256, 1);
  const te = p(preset === "tiny" ? 64 : 256, 2);
  const f = await fitDas(site, tr, { k: 1, steps: preset === "tiny" ? 20 : 150, seed: 0, padId: padIdOf(run.tokenizer) });
  rows.push({ program, "DAS k=1": (await evaluateIia(site, te, f.w, 1, { padId: padIdOf(run.tokenizer) })).iia,
    "full swap": (await evaluateIia(site, te, identitySubspace(site.dim, site.dim), site.dim, { padId: padIdOf(run.tokenizer) })).iia });
}
await display(aq.from(rows));

// %% [markdown]
// Reading it (`quick`, executed on this project's machine): Up-Down 0.83 on one direction (the full
// swap 0.75, below it because a whole swapped state also carries the source's phase), Up-Up 0.25.
// Up-Up is not at 0 because an intervention in the demo phase has the same counterfactual under
// both programs (count up, then answer as many); only response-phase interventions tell them
// apart. The GRU keeps one count that goes up and then down: the symbol-like variable of seed 003.

// %%
model.dispose();
toy.dispose();
