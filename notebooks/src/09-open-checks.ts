// %% [markdown]
// # 09 · The paper's three open checks
//
// 1. **Gather-head ablation.** The paper zeroed aggregate heads; does zeroing gather heads (against
//    control heads of the same number) matter? The paper reports no significant effect.
// 2. **A residual LSTM.** The LSTM showed no grounding. Is that recurrence, or the missing residual
//    paths? An LSTM with residual connections between layers separates the two.
// 3. **A shared vocabulary.** With `w<ENV>` and `w<LAN>` as one token, does the same mechanism appear?
//    (Here G measures how much seeing the word itself earlier helps predict it.)
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 7 s once its runs exist; training them the first time, with their analyses (measured in `groundlab reproduce --preset quick` on the idle machine, two at a time): Transformer 12.0 min, Mamba-2 9.2, LSTM 5.0, residual LSTM 4.9, shared-vocabulary Transformer 9.9.

// %%
import { labRuns, ablationTable, overSeeds, lineChart, display, progressDisplay, interruptSignal } from "groundlab";
import * as aq from "arquero";
const runs = await labRuns({ groups: ["main", "checks"], onProgress: progressDisplay(), signal: interruptSignal() });

// %% [markdown]
// ## 1. Gather heads zeroed vs control heads (Transformer)

// %%
await display(aq.from(ablationTable(runs, "transformer", "gather").map((r) => ({ checkpoint: r.step, "gather heads": r.heads,
  "mean layer": r.mean_layer, "gather zeroed": r.ablated, "control zeroed": r.control, intact: r.intact, p: r.p_text }))));

// %% [markdown]
// ## 2 and 3. G of the residual LSTM and of the shared-vocabulary Transformer, beside their baselines

// %%
const labels = ["lstm", "lstm (residual)", "transformer", "transformer (shared vocabulary)"];
const gain = overSeeds(runs.filter((r) => labels.includes(r.label)), "gain_summary", "gain");
await display(lineChart(gain, { x: "step", y: "mean", color: "label", rule: 0, title: "Open checks 2 and 3: G over training", yTitle: "G (nats)" }));
labels.map((l) => { const g = gain.filter((r) => r.label === l); const e = g[g.length - 1]; return { setting: l, step: e?.step, G: Number(e?.mean).toFixed(3) }; })
