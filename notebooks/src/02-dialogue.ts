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
// **Runtime** (`quick` preset, this project's 2-core machine): 4 s once its runs exist; the first time, the caption and image runs are trained and analysed side by side in 10.0 min each (measured in `groundlab reproduce --preset quick` on the idle machine).

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

// %% [markdown]
// **What the quick runs show** (seed 0, `groundlab reproduce --preset quick`; with `tiny` the
// numbers above are from the tiny runs and mean little). The caption-grounded Transformer grounds:
// G = 5.70 nats at step 1500, less than the 13.2 of the child-directed corpus (answers name one of
// several objects of the scene, and the question often names the noun first). The image-grounded
// Transformer does not, at this budget: G = -0.002 nats at step 1500; in an earlier run of the same
// configuration its loss on the LAN nouns of 128 training rows was 4.136 nats with the real patch
// features and 4.132 with zeros: it had not learned to read the image at all. The features do carry the noun (a linear classifier on
// them names the object's noun for 98% of patches under unseen lighting, and 99% in unseen
// colours), and the features reach the model (tests). **With more training it grounds**: the same
// quick Transformer trained for 4000 steps (`groundlab train --arch transformer --preset quick
// --corpus-kind image --steps 4000`, 26 min; its learning-rate schedule spans the 4000 steps) has
// G = 0.006 nats at step 2000, 0.25 at 2600 (95% CI over nouns 0.11-0.38), 0.87 at 2900, 1.90 at
// 3500 and 2.10 at 4000 (1.54-2.67). Reading the noun off continuous patch features takes the
// model much longer than copying a caption token (the caption run passes 1 nat at step 1000, the
// child-directed corpus at 300).
