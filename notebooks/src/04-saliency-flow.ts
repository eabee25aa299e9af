// %% [markdown]
// # 04 · Saliency flow over layers and training
//
// **Paper's measure.** For layer l, `I_l = | sum_h A_{h,l} (elementwise) dL/dA_{h,l} |`: attention
// times its gradient (L is the loss of predicting `v<LAN>`). The flow of interest is the entry from
// the `v<ENV>` position to the position that predicts `v<LAN>`, as a share of the layer's total.
// **Paper's result:** this flow concentrates in the middle layers as grounding emerges.
//
// groundlab records dL/dA with an identity `customGrad` hook on `blocks.{l}.attn.hook_pattern`
// (Mamba-2: on its SSD token-mixing matrix `blocks.{l}.ssd.hook_pattern`; the LSTM has no such
// matrix, so for it the table holds gradient-times-input saliency over positions instead).
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 12 s once its runs exist; the first time, each `main` run is trained and analysed: 12.0 min for the Transformer, 9.2 for Mamba-2, 5.0 for the LSTM, two at a time (measured in `groundlab reproduce --preset quick` on the idle machine).

// %%
import { labRuns, pickRun, heatmap, lineChart, display, progressDisplay, interruptSignal } from "groundlab";
const runs = await labRuns({ groups: ["main"], onProgress: progressDisplay(), signal: interruptSignal() });

// %%
for (const label of ["transformer", "mamba2"]) {
  const layers = pickRun(runs, label).tables.saliency.filter((r) => r.kind === "layer");
  await display(heatmap(layers, { x: "step", y: "layer", value: "flow", title: `${label}: saliency flow ENV -> prediction position`, valueTitle: "share" }));
}

// %%
// The LSTM: share of gradient-x-input saliency on the v<ENV> position, over training.
const lstm = pickRun(runs, "lstm").tables.saliency;
await display(lineChart(lstm, { x: "step", y: "flow", title: "LSTM: gradient x input share at v<ENV>", yTitle: "share" }));

// %%
// Per head at the last analysed checkpoint (Transformer): which heads carry the flow.
const heads = pickRun(runs, "transformer").tables.saliency.filter((r) => r.kind === "head");
const lastStep = Math.max(...heads.map((r) => Number(r.step)));
await display(heatmap(heads.filter((r) => Number(r.step) === lastStep), { x: "head", y: "layer", value: "flow", title: `Transformer heads at step ${lastStep}: ENV -> prediction share`, valueTitle: "share" }));
