// %% [markdown]
// # 10 · Beyond the paper: referential noise delays grounding
//
// In real play, many handled objects are never named, many namings are about something else or
// about absent things, and several objects are in view. groundlab's synthetic corpus makes each of
// these a knob (see the README: `pUnnamed`, `pNoEnv`, `pAbsent`, `distractors`, `maxDistance`).
// The `simple` setting has none of that noise; `realistic` has all of it at documented, plausible
// rates. Same model, same steps: how does G develop?
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 8 s once its runs exist; the first time, each `main` run is trained and analysed: 12.0 min for the Transformer, 9.2 for Mamba-2, 5.0 for the LSTM, two at a time (measured in `groundlab reproduce --preset quick` on the idle machine); the `noise` run 10.9 min.

// %%
import { labRuns, overSeeds, lineChart, display, progressDisplay, interruptSignal, SYNTHETIC_SETTINGS } from "groundlab";
import * as aq from "arquero";
await display(aq.from(Object.entries(SYNTHETIC_SETTINGS).map(([name, k]) => ({ setting: name, ...k }))));

// %%
const runs = await labRuns({ groups: ["main", "noise"], onProgress: progressDisplay(), signal: interruptSignal() });
const picked = runs.filter((r) => r.label === "transformer" || r.label === "transformer (realistic corpus)");
const gain = overSeeds(picked, "gain_summary", "gain").map((r) => ({ ...r, corpus: r.label === "transformer" ? "simple" : "realistic" }));
await display(lineChart(gain, { x: "step", y: "mean", color: "corpus", rule: 0, title: "Transformer: G on the simple vs the realistic corpus", yTitle: "G (nats)" }));

// %%
// The first checkpoint where G exceeds 1 nat, per corpus (undefined: not within this run).
["simple", "realistic"].map((c) => ({ corpus: c, firstStepWithG_over_1: gain.find((r) => r.corpus === c && Number(r.mean) > 1)?.step, finalG: Number(gain.filter((r) => r.corpus === c).slice(-1)[0]?.mean).toFixed(3) }))

// %% [markdown]
// **Try it.** Train the same model with one knob changed and compare, e.g.
// `groundlab train --arch transformer --preset quick --knob pUnnamed=0.3 --out runs/unnamed30`
// then `groundlab eval runs/unnamed30`, or use `train({ ..., corpus: { knobs: { pUnnamed: 0.3 } } })` here.
