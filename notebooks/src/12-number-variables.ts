// %% [markdown]
// # 12 · Number variables: do counting models hold a count, causally?
//
// Seed 003 (*Emergent symbol-like number variables*) trains small models on a numeric-equivalence
// task: a demo phase of n objects, a trigger, then exactly n responses and an end token. Three
// symbolic programs could solve it: **Up-Down** (count up in the demo, down in the responses, stop
// at zero), **Up-Up** (count up twice, stop when equal) and **Context-Distribution** (no carried
// count: recount the context at every step). Distributed alignment search (DAS) asks which one a
// model *implements*: it learns a k-dimensional subspace of the model's state such that putting a
// source sequence's values there makes the model continue as the program would
// (interchange-intervention accuracy, IIA). See `docs/causal.md` for the format and the method.
//
// This notebook trains, at the lab's preset (one seed each), a 1-layer GRU, a 1-layer LSTM and a
// 2-layer RoPE Transformer on the Multi-Object task, and the GRU on the Single- and Same-Object
// tasks; it compares Up-Down with Up-Up (and Context-Distribution for the Transformer), follows IIA
// beside task accuracy over training, and runs the reviewers' repeated phase flips.
//
// **Runtime** (`quick`, this project's shared 2-core machine under a load average of 4-7): 696 s
// when the Multi-Object GRU and LSTM already existed; of that, training the Transformer took 252 s
// and each of the two other GRUs 34 s (the LSTM trains in 75-172 s); each DAS fit takes 20-60 s.
// Runs already trained (in `runs/reproduce-<preset>/counting/`) are reused.

// %%
import { train, openRun, labDir, labPreset, dasRun, dasFlips, countingAccuracy, countingKnobs, countingSequences, lineChart, display,
  progressDisplay, interruptSignal } from "groundlab";
import * as aq from "arquero";
import * as path from "node:path";
const preset = labPreset();
// The tiny preset's context (32) holds counts up to 14: smaller counts there.
const knobs = preset === "tiny" ? { maxCount: 12, heldOut: "4/9" } : {};
const dasSteps = preset === "tiny" ? 20 : 150;
const pairs = preset === "tiny" ? 64 : 256;
const settings = [
  { name: "gru-multi", arch: "gru", task: "multi", model: { nLayers: 1 }, site: "blocks.0.state" },
  { name: "lstm-multi", arch: "lstm", task: "multi", model: { nLayers: 1 }, site: "blocks.0.state" },
  { name: "transformer-multi", arch: "transformer", task: "multi", model: { nLayers: 2, positional: "rope" }, site: "blocks.0.hook_resid_post" },
  { name: "gru-single", arch: "gru", task: "single", model: { nLayers: 1 }, site: "blocks.0.state" },
  { name: "gru-same", arch: "gru", task: "same", model: { nLayers: 1 }, site: "blocks.0.state" },
] as const;
const dir = (name: string) => path.join(labDir(preset), "counting", name);
for (const s of settings) {
  const k = { ...(s.task === "multi" ? {} : { task: s.task }), ...knobs }; // the defaults are left out, as the CLI leaves them
  await train({ out: dir(s.name), arch: s.arch, preset, seed: 0, model: { ...s.model }, corpus: { kind: "counting", ...(Object.keys(k).length ? { knobs: k } : {}) },
    onProgress: progressDisplay(), signal: interruptSignal(), log: false });
}

// %% [markdown]
// ## Task accuracy, held-out counts included
//
// A sequence is right when every response and the end token is the argmax (seed 003 reports
// 99.99% for its recurrent models). Held-out counts never occur in training.

// %%
const acc = [];
for (const s of settings) {
  const run = await openRun(dir(s.name));
  const k = countingKnobs(run.config.corpus.knobs);
  const model = await run.loadModel();
  const a = await countingAccuracy(model, run.tokenizer, countingSequences(k, Array.from({ length: k.maxCount }, (_, i) => i + 1), 20, "nb12"));
  const held = a.byCount.filter((c) => k.heldOut.includes(c.count));
  acc.push({ run: s.name, accuracy: a.accuracy, heldout: held.reduce((x, c) => x + c.accuracy * c.n, 0) / held.reduce((x, c) => x + c.n, 0), sequences: a.n });
  model.dispose();
}
await display(aq.from(acc));

// %% [markdown]
// ## Which program? Up-Down against Up-Up (k = 1)
//
// For each run, DAS fits a 1-dimensional subspace of the recurrent state (the GRU's h, the LSTM's
// h | c, replaced inside the recurrence so the change is carried on) or of the Transformer's
// residual stream after layer 0, on counterfactual pairs of training counts, and is scored on as
// many other pairs. Baselines: the first neuron (identity rotation), a random direction, a
// probe-derived direction (ridge regression of the count), the full-vector swap.

// %%
const das = [];
for (const s of settings) {
  const run = await openRun(dir(s.name));
  const programs = s.arch === "transformer" ? ["up-down", "up-up", "context-distribution"] : ["up-down", "up-up"];
  for (const program of programs) {
    const rows = await dasRun(run, { program: program as never, site: s.site, dims: [1], steps: dasSteps, trainPairs: pairs, testPairs: pairs, signal: interruptSignal() });
    const by = (m: string) => rows.find((r) => r.method === m)?.iia;
    das.push({ run: s.name, program, site: s.site, "DAS k=1": by("das"), identity: by("identity"), random: by("random"), probe: by("probe"), "full swap": by("full") });
  }
}
await display(aq.from(das));

// %% [markdown]
// Reading it (seed 0 here: GRU Up-Down 0.76 vs Up-Up 0.03, LSTM 0.51 vs 0.10, Single-Object GRU
// 0.81 vs 0.09, Same-Object GRU 0.29 vs 0.26; Transformer Up-Down 0.06, Up-Up 0.01,
// Context-Distribution 1.00; every model at 100% task accuracy, held-out counts included): as over
// three seeds in docs/causal.md, recurrent Multi-Object models align with Up-Down far better than
// with Up-Up, the Same-Object GRU less, and the 2-layer RoPE Transformer with neither, while
// Context-Distribution interventions succeed. The full swap is not an upper bound here: it also
// carries the source's phase, which a count-only intervention does not.

// %% [markdown]
// ## IIA and task accuracy over training (GRU, Multi-Object)

// %%
const gru = await openRun(dir("gru-multi"));
const steps = gru.checkpoints.map((c) => c.step).filter((s) => s > 0);
const pick = [...new Set([0.05, 0.1, 0.2, 0.35, 0.5, 1].map((q) => steps[Math.min(steps.length - 1, Math.round(q * (steps.length - 1)))]))];
const over = await dasRun(gru, { program: "up-down", site: "blocks.0.state", dims: [1], checkpoints: pick, steps: dasSteps, trainPairs: pairs, testPairs: pairs, signal: interruptSignal() });
const series = over.filter((r) => r.method === "das" || r.method === "full").map((r) => ({ step: r.step, value: r.iia, series: `IIA, ${r.method === "das" ? "DAS k=1" : "full swap"}` }));
for (const r of over.filter((x) => x.method === "das")) series.push({ step: r.step, value: r.task_accuracy, series: "task accuracy" });
await display(lineChart(series, { x: "step", y: "value", color: "series", title: "GRU, Multi-Object: IIA (Up-Down count) and task accuracy", yTitle: "share" }));

// %% [markdown]
// ## Repeated phase flips (the reviewers' ask)
//
// Sequences of 2 or 3 demo / response rounds, `<bos> obj^a1 trig resp^b1 | obj^a2 trig ... end`:
// at each "|" the phase is flipped back to demo by interchanging the fitted subspace with a
// demo-phase source state (all flips in one run), though in training the phase only ever flips
// once. `keep`: the flip keeps the base's count (a pure phase flip); `source`: the count is set
// too. `none` runs the same tokens with no intervention.

// %%
const flips = await dasFlips(gru, { site: "blocks.0.state", rounds: preset === "tiny" ? [2] : [2, 3], demoMax: preset === "tiny" ? 4 : 8, k: 2, steps: dasSteps, fitPairs: pairs, sequences: pairs, signal: interruptSignal() });
await display(aq.from(flips.map((r) => ({ rounds: r.rounds, count: r.count_mode, method: r.method, k: r.k, IIA: r.iia, "tokens right": r.token_accuracy, sequences: r.sequences }))));

// %% [markdown]
// Reading it (GRU seed 0): with no intervention the GRU fails on a second demo phase (IIA 0.00 with
// the count kept, 0.14 with it set); with the aligned subspace interchanged at every flip it counts
// on (2 rounds: 0.98 keep, 0.79 source; 3 rounds: 0.80 and 0.62), and a 1-dimensional count subspace
// does about as well as count and phase together. The full swap (a whole demo-phase state) restarts
// the model: 1.00. docs/causal.md has the same for another GRU seed and an LSTM.
