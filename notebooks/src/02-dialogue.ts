// %% [markdown]
// # 02 · Caption-grounded and image-grounded dialogue
//
// **Paper's result.** The same grounding appears when the environment is an image caption (MSCOCO
// captions with Visual Dialog turns) and when it is a grid of image-patch embeddings from a frozen
// vision encoder (DINOv2) projected into the model.
//
// groundlab ships stand-ins for both (nothing is downloaded): a scene caption as the environment
// with question/answer turns, and procedurally drawn scenes whose patches go through a fixed, frozen
// random-feature encoder into a learned projection (continuous ENV inputs at `<patch>` positions).
// See the README's corpus section for what they are and are not.
//
// **Runtime** (`quick` preset): not yet measured for the two dialogue runs (each a quick Transformer run like the one `00-quickstart` trains, which took 33 min with its analyses on this project's 2-core machine); seconds once they exist.

// %%
import { labRuns, overSeeds, lineChart, display, progressDisplay, interruptSignal } from "groundlab";
const runs = await labRuns({ groups: ["dialogue"], onProgress: progressDisplay(), signal: interruptSignal() });
runs.map((r) => r.label)

// %%
const rows = [
  ...overSeeds(runs, "gain_summary", "match").map((r) => ({ ...r, series: `${r.label}: match` })),
  ...overSeeds(runs, "gain_summary", "mismatch").map((r) => ({ ...r, series: `${r.label}: mismatch` })),
];
await display(lineChart(rows, { x: "step", y: "mean", color: "series", title: "Dialogue: surprisal of v<LAN>", yTitle: "surprisal (nats)" }));

// %%
const gain = overSeeds(runs, "gain_summary", "gain");
await display(lineChart(gain, { x: "step", y: "mean", color: "label", rule: 0, title: "Dialogue: grounding information gain", yTitle: "G (nats)" }));
gain.filter((r, i, a) => i === a.length - 1 || a[i + 1].label !== r.label).map((r) => ({ setting: r.label, step: r.step, G: Number(r.mean).toFixed(3) }))
