// %% [markdown]
// # 00 · Quickstart: train a model, measure grounding, open the widgets
//
// This notebook trains a small GPT-style Transformer from random initialisation on groundlab's
// synthetic child-directed corpus, measures how much seeing `ball<ENV>` in the context lowers the
// surprisal of the spoken word `ball<LAN>` (the grounding information gain **G**), and opens the
// two interactive widgets: the checkpoint timeline and the attention/saliency inspector.
//
// **ENV and LAN.** Every word of interest exists twice in the vocabulary: `ball<ENV>` is the
// *environment* token (an annotation saying the ball is there: someone holds it, looks at it) and
// `ball<LAN>` is the *language* token (the word "ball" spoken). The two are unrelated ids: nothing
// but training can teach the model that one predicts the other. A real line of the simple corpus
// (`groundlab corpus generate --setting simple --show 1`, seed 0), one turn of the mother:
//
// ```
// <MOT> mother holds diaper<ENV> put on your diaper<LAN> <MOT> is it fun
// ```
//
// The model is grounded when seeing `diaper<ENV>` makes `diaper<LAN>` more expected than seeing
// another object's ENV token does.
//
// **Preset.** `GROUNDLAB_PRESET` picks the size (`quick` by default: minutes on a laptop CPU; CI runs
// every notebook with `tiny`). The run goes to `runs/reproduce-<preset>/main/transformer_s0`, the
// same folder `groundlab reproduce` and the other notebooks use, so nothing is trained twice.
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 20 s once the
// run exists. The first time, this notebook trains it (`scripts/lab.sh` opens JupyterLab at once and
// trains nothing): 33 min with its analyses (1,500 steps, ~1,000 tokens/s while another run shared
// the machine), each step shown by the progress bar with the time left. Stop it with the kernel's
// stop button: it stops after the current step, saves a checkpoint, and the next run of the cell
// resumes from there; a run already trained says so and takes a second.

// %%
import { train, openRun, evalRun, analyzeRun, detailSteps, analysisOptions, display, lineChart, progressDisplay, interruptSignal,
  timelineData, inspectorData, timelineBundle, inspectorBundle, labPreset, labDir } from "groundlab";
const preset = labPreset();
const out = `${labDir(preset)}/main/transformer_s0`;
console.log(`preset ${preset}; run directory ${out}`);

// %% [markdown]
// ## Train
// One progress line, updated in place: step, loss, tokens per second, time left.

// %%
const result = await train({ out, arch: "transformer", preset, seed: 0, signal: interruptSignal(), onProgress: progressDisplay() });
console.log(`${result.status} at step ${result.step} of ${result.steps}`);

// %%
const run = await openRun(out);
const metrics = (await run.readTable("metrics/train"))!;
await display(lineChart(metrics, { x: "step", y: "loss", title: "Training loss", yTitle: "cross-entropy (nats)" }));

// %% [markdown]
// ## Measure grounding
// For each word of interest `v`, held-out contexts contain either `v<ENV>` (match) or another
// noun's `u<ENV>` (mismatch); G(v) is the mismatch surprisal of `v<LAN>` minus the match surprisal,
// averaged over contexts and mismatched nouns. `evalRun` computes it at every checkpoint.
//
// **Why G gets so large here.** The simple corpus has no referential noise: every object that is
// handled is named within the same turn (`corpus stats` reports that 100% of LAN mentions have
// their ENV token in the 64 tokens before). After training, the `quick` Transformer gives the
// named word a match surprisal of about 0.011 nats (probability 0.989) and a mismatch surprisal of
// about 13.2 nats (probability about 2e-6): G is the difference, 13.2 nats. That is what a nearly
// deterministic corpus allows, not a number to compare with the paper's; the `realistic` corpus
// (`10-referential-noise`) gives far smaller values.

// %%
const gain = await evalRun(run, { ...analysisOptions(preset), onProgress: progressDisplay(), signal: interruptSignal() });
await display(lineChart(gain, { x: "step", y: "gain", lo: "ci_lo", hi: "ci_hi", rule: 0,
  title: "Grounding information gain G (95% CI over nouns)", yTitle: "G (nats)" }));

// %% [markdown]
// ## Heads, saliency and the widgets
// The head analyses (saliency flow, gather/aggregate classification) run on about five checkpoints
// spread over training. Then the timeline (scrub over checkpoints) and the inspector (click a head to
// see its token x token attention or saliency map; the ENV -> pre-LAN cell is marked) open below.
// Without the JupyterLab extension they show as static images.
//
// **The timeline's panels**, one point per analysed checkpoint: match and mismatch surprisal of
// `v<LAN>`; G with its 95% interval; **R^2 against co-occurrence**, the share of the variation of
// G(v) across nouns that a regression on how often `v<ENV>` and `v<LAN>` occur (alone and together)
// in the training text explains (near 1: G only mirrors counts; near 0: the counts do not explain
// which nouns ground, as the paper finds; 0.06 at step 1500 here); and the **head counts**, how many heads pass the gather
// and the aggregate rule (30% of their saliency, see `06-heads-examples`).
//
// **Example labels** in the inspector read `noun (action/frame)`: `dog (picks-up/look-it-is-your)`
// is the evaluation sequence for `dog` in which someone *picks up* the dog (the ENV event) and the
// held-out frame "look it is your ___" asks for the word; its mismatch twin has another noun's ENV
// token in the same place.

// %%
await analyzeRun(run, { ...analysisOptions(preset), checkpoints: detailSteps(preset), only: ["gain", "cooccurrence", "heads"], onProgress: progressDisplay(), signal: interruptSignal() });
await display(timelineBundle(await timelineData(run)));

// %%
await display(inspectorBundle(await inspectorData(run, { examples: 2 })));
