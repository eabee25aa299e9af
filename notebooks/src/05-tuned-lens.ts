// %% [markdown]
// # 05 · Layer-wise surprisal through the logit lens and the tuned lens
//
// **Paper's result.** Reading the residual stream of each layer through the final norm and the
// unembedding (logit lens), or through an affine translator per layer trained so that the layer's
// distribution matches the final one (tuned lens, Belrose et al. 2023), the match/mismatch gap
// appears in the middle layers (7-9 of 12).
//
// groundlab trains the tuned lens on the run's own data with the KL objective and saves it in the
// run (`lens/tuned-step-XXXXXX.safetensors`); `analysis/lens` holds match and mismatch surprisal
// and G per layer for both lenses. Layer 0 is the embedding; layer L the last block's output.
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 13 s once its runs exist; the first time, the one run it reads (the `main` Transformer) is trained and analysed: 12.0 min (measured in `groundlab reproduce --preset quick` on the idle machine), with a progress bar.

// %%
import { labRuns, pickRun, lineChart, display, progressDisplay, interruptSignal } from "groundlab";
const runs = await labRuns({ groups: ["main"], archs: ["transformer"], onProgress: progressDisplay(), signal: interruptSignal() });
const lens = pickRun(runs, "transformer").tables.lens;
const last = Math.max(...lens.map((r) => Number(r.step)));

// %%
const rows = lens.filter((r) => Number(r.step) === last).flatMap((r) => [
  { layer: r.layer, surprisal: r.match, series: `${r.lens} lens: match` },
  { layer: r.layer, surprisal: r.mismatch, series: `${r.lens} lens: mismatch` },
]);
await display(lineChart(rows, { x: "layer", y: "surprisal", color: "series", title: `Transformer, step ${last}: surprisal of v<LAN> by layer`, yTitle: "surprisal (nats)" }));

// %%
// G by layer over training (tuned lens).
const tuned = lens.filter((r) => r.lens === "tuned").map((r) => ({ ...r, checkpoint: `step ${r.step}` }));
await display(lineChart(tuned, { x: "layer", y: "gain", color: "checkpoint", rule: 0, title: "Tuned lens: G by layer at each analysed checkpoint", yTitle: "G (nats)" }));
