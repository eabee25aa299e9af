// %% [markdown]
// # 06 · Gather and aggregate heads: examples
//
// **Paper's definition** (after Bick et al. 2025). A *gather* head moves context into the ENV
// positions: at least 30% of its saliency goes into ENV tokens from preceding positions. An
// *aggregate* head moves the ENV information to the prediction position: at least 30% of its
// saliency flows from the ENV token to the position before the LAN token. **Result:** gather heads
// sit early (mean layer 3.3-3.7 of 12), aggregate heads in the middle (7-8).
//
// Below: the per-head scores of the Transformer run, the heads each rule selects, and the inspector
// widget for two evaluation examples (click a head; switch attention/saliency and match/mismatch).
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 11 s once its runs exist; the first time, each `main` run is trained and analysed: 12.0 min for the Transformer, 9.2 for Mamba-2, 5.0 for the LSTM, two at a time (measured in `groundlab reproduce --preset quick` on the idle machine).

// %%
import { labRuns, pickRun, openRun, heatmap, display, progressDisplay, interruptSignal, inspectorData, inspectorBundle } from "groundlab";
const runs = await labRuns({ groups: ["main"], onProgress: progressDisplay(), signal: interruptSignal() });
const t = pickRun(runs, "transformer");
const last = Math.max(...t.tables.heads.map((r) => Number(r.step)));
const heads = t.tables.heads.filter((r) => Number(r.step) === last);

// %%
await display(heatmap(heads, { x: "head", y: "layer", value: "aggregate_share", title: `Aggregate score (ENV -> pre-LAN share), step ${last}`, valueTitle: "share" }));
await display(heatmap(heads, { x: "head", y: "layer", value: "gather_share", title: `Gather score (into ENV share), step ${last}`, valueTitle: "share" }));

// %%
({ aggregate: heads.filter((h) => h.aggregate).map((h) => `L${h.layer}.H${h.head}`), gather: heads.filter((h) => h.gather).map((h) => `L${h.layer}.H${h.head}`) })

// %%
await display(inspectorBundle(await inspectorData(await openRun(t.dir), { examples: 2 })));
