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
// **Why the layers here differ from the paper's.** The paper's numbers are of a 12-layer, 12-head
// Transformer trained for 50,000 steps on a noisy, realistic corpus. With the `quick` preset this
// notebook reads a 4-layer, 4-head model trained for 1,500 steps on the `simple` corpus, and finds
// two aggregate heads, both in layer 0 of 4 (L0.H0 and L0.H1), and no gather head (its saved output below). Layer numbers
// of models of different depth are not comparable as such (the paper's aggregate heads sit at about
// 60% of the depth). And in the simple corpus nothing needs to be collected into the ENV position
// before it is used: the ENV token alone names the object, and it is named soon after, so one head
// that copies `v<ENV>` to the position before `v<LAN>` does the job from the first layer on, and no
// head passes the 30% gather rule. That is our reading, not a measurement: the test is the
// `realistic` corpus (`10-referential-noise`) and the `paper` preset, where the ENV information has
// more to pass through.
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 11 s once its runs exist; the first time, the one run it reads (the `main` Transformer) is trained and analysed: 12.0 min (measured in `groundlab reproduce --preset quick` on the idle machine), with a progress bar.

// %%
import { labRuns, pickRun, openRun, heatmap, display, progressDisplay, interruptSignal, inspectorData, inspectorBundle } from "groundlab";
const runs = await labRuns({ groups: ["main"], archs: ["transformer"], weights: true, onProgress: progressDisplay(), signal: interruptSignal() });
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
