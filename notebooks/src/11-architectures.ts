// %% [markdown]
// # 11 · Which ingredients does grounding need?
//
// Every architecture is data (`src/models/<arch>.ts`), and the Transformer's attention comes apart
// into switches (after *Deconstructing Attention*): positions (`learned | rope | none`), token
// mixing (`softmax | uniform | static | none`), the similarity function (`softmax | linear`) and
// where queries and keys come from (`hidden | embed`), in every layer or in some. This notebook
// trains, at the lab's preset, the GRU and gated linear attention (GLA) beside the main
// Transformer, Mamba-2 and LSTM; the Transformer with each ingredient removed in every layer; and
// the Transformer with softmax attention kept in one layer only (no token mixing in the others).
// It shows G over training, gather and aggregate head counts and the ablation test side by side.
//
// Reading it: an ingredient is *necessary* when removing it in every layer keeps G near 0; it
// *suffices in one layer* when keeping softmax attention in that layer alone brings G back.
// `mixing: none` everywhere is the control: the prediction position cannot read the ENV token,
// so G must be 0 (the `quick` run gave exactly 0 at all 27 checkpoints).
//
// **Runtime**: one seed per setting; the `architectures` group is 2 + 7 + (layers of the preset's
// Transformer) runs, on top of the `main` runs. At `quick` one `mixing: none` Transformer trained in
// 3.8 min (1,500 steps) on this project's shared 2-core machine; the softmax Transformer takes about
// 12 min with its analyses (see 07).

// %%
import { labRuns, architectureRows, overSeeds, lineChart, display, progressDisplay, interruptSignal } from "groundlab";
import * as aq from "arquero";
const runs = await labRuns({ groups: ["main", "architectures"], onProgress: progressDisplay(), signal: interruptSignal() });
const rows = architectureRows(runs);

// %% [markdown]
// ## G over training: the architectures

// %%
const archLabels = ["transformer", "mamba2", "lstm", "gru", "gla"];
await display(lineChart(overSeeds(runs.filter((r) => archLabels.includes(r.label)), "gain_summary", "gain"), {
  x: "step", y: "mean", color: "label", lo: "lo", hi: "hi", rule: 0, title: "G by architecture", yTitle: "G (nats)",
}));

// %% [markdown]
// ## G over training: one ingredient removed in every layer, and softmax attention in one layer only

// %%
const ingredient = runs.filter((r) => r.label === "transformer" || r.group === "architectures/ablations");
await display(lineChart(overSeeds(ingredient, "gain_summary", "gain"), { x: "step", y: "mean", color: "label", rule: 0, title: "Transformer: one ingredient removed", yTitle: "G (nats)" }));
const oneLayer = runs.filter((r) => r.label === "transformer" || r.label === "transformer (mixing=none)" || r.group === "architectures/one-layer");
await display(lineChart(overSeeds(oneLayer, "gain_summary", "gain"), { x: "step", y: "mean", color: "label", rule: 0, title: "Transformer: softmax attention kept in one layer", yTitle: "G (nats)" }));

// %% [markdown]
// ## Side by side: G at the end (95% CI; over nouns for one seed), share of the Transformer's G (when it grounds), heads and the ablation test
//
// Heads are counted at the last analysed checkpoint with the saliency rule of 06/07; the ablation
// test zeroes the aggregate heads against as many random control heads (08). Settings without a
// token-mixing matrix (LSTM, GRU, `mixing: none`) have no heads: their rows are empty there.

// %%
await display(aq.from(rows.map((r) => ({
  setting: r.setting, step: r.step, G: Number(r.gain).toFixed(3), "95% CI": `${Number(r.lo).toFixed(3)} to ${Number(r.hi).toFixed(3)} (${r.ci_over})`,
  "share of Transformer": r.share === undefined ? "" : Number(r.share).toFixed(2),
  "aggregate heads": r.aggregate_heads ?? "", "gather heads": r.gather_heads ?? "",
  "aggregate zeroed": Number.isFinite(Number(r.ablated)) ? Number(r.ablated).toFixed(3) : "", "control zeroed": Number.isFinite(Number(r.control)) ? Number(r.control).toFixed(3) : "", p: r.p,
}))), { limit: 40 });
