// %% [markdown]
// # 00 · Quickstart: train a model, measure grounding, open the widgets
//
// This notebook trains a small GPT-style Transformer from random initialisation on groundlab's
// synthetic child-directed corpus, measures how much seeing `ball<ENV>` in the context lowers the
// surprisal of the spoken word `ball<LAN>` (the grounding information gain **G**), and opens the
// two interactive widgets: the checkpoint timeline and the attention/saliency inspector.
//
// **Preset.** `GROUNDLAB_PRESET` picks the size (`quick` by default: minutes on a laptop CPU; CI runs
// every notebook with `tiny`). The run goes to `runs/reproduce-<preset>/main/transformer_s0`, the
// same folder `groundlab reproduce` and the other notebooks use, so nothing is trained twice.
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 20 s once the
// run exists; training it the first time took 33 min with its analyses (1,500 steps, ~1,000
// tokens/s while another run shared the machine). Stop it with the kernel's stop button: it stops
// after the current step, saves a checkpoint, and the next run of the cell resumes from there.

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

// %%
await analyzeRun(run, { ...analysisOptions(preset), checkpoints: detailSteps(preset), only: ["gain", "cooccurrence", "heads"], onProgress: progressDisplay(), signal: interruptSignal() });
await display(timelineBundle(await timelineData(run)));

// %%
await display(inspectorBundle(await inspectorData(run, { examples: 2 })));
