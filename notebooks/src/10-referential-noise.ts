// %% [markdown]
// # 10 · Beyond the paper: referential noise delays grounding
//
// In real play, many handled objects are never named, many namings are about something else or
// about absent things, and several objects are in view. groundlab's synthetic corpus makes each of
// these a knob (see the README: `pUnnamed`, `pNoEnv`, `pAbsent`, `distractors`, `maxDistance`,
// `topics`, `zipf`, `namingSpread`). The `simple` setting has none of that noise; `realistic` has
// all of it at documented, plausible rates. Same models, same steps: how does G develop, and when
// does it first exceed 1 nat, with each kind of noise alone and with all of them?
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 13 s once
// its runs exist. The first time it trains what it reads: the `main` runs at seed 0 (9.7, 5.3 and
// 2.1 min for the Transformer, Mamba-2 and the LSTM, with their analyses), the three `noise` runs
// (the same on the realistic corpus: 8-18 min each at load average 6-16) and the 30 `emergence`
// runs (G only: 3-13 min each; 100 min for all 30, two at a time, at load average 6-16).

// %%
import { labRuns, overSeeds, lineChart, dotChart, display, progressDisplay, interruptSignal, SYNTHETIC_SETTINGS,
  emergenceRows, emergenceTable, EMERGENCE_THRESHOLD } from "groundlab";
import * as aq from "arquero";
await display(aq.from(Object.entries(SYNTHETIC_SETTINGS).map(([name, k]) => ({ setting: name, ...k }))));

// %% [markdown]
// ## The main comparison on both settings
// The `main` runs use the simple setting, the `noise` runs the realistic one: the same three
// architectures, seeds and steps.

// %%
const runs = await labRuns({ groups: ["main", "noise"], onProgress: progressDisplay(), signal: interruptSignal() });
const gain = overSeeds(runs, "gain_summary", "gain").map((r) => ({
  ...r,
  arch: String(r.label).split(" ")[0],
  corpus: String(r.label).includes("realistic") ? "realistic" : "simple",
}));
await display(lineChart(gain.map((r) => ({ ...r, series: `${r.arch}, ${r.corpus}` })), { x: "step", y: "mean", color: "series", rule: 0, title: "G on the simple vs the realistic corpus", yTitle: "G (nats)" }));

// %%
// G at the last checkpoint, per architecture and corpus.
aq.from(gain).groupby("arch", "corpus").filter((d) => d.step === aq.op.max(d.step)).select("arch", "corpus", "step", "mean").objects()

// %% [markdown]
// ## When does grounding emerge?
// The `emergence` runs train each architecture on the simple setting with one noise knob of the
// realistic setting at its realistic value (a distractor and the chance it is named go together),
// and on both settings whole; only G is measured, at every checkpoint. The emergence step is the
// first checkpoint with G above 1 nat; a hollow dot: not within the run. The `main` and `noise`
// runs above are the same runs as the simple and realistic settings (same preset, corpus and seeds),
// so they count too, once: pass `seeds: [0, 1, 2]` to both `labRuns` calls to get those two rows
// over three seeds, as `docs/results-quick/REPORT.md` has them. (With `tiny`, a smoke run, the
// sweep has the Transformer only.)

// %%
const em = await labRuns({ groups: ["emergence"], onProgress: progressDisplay(), signal: interruptSignal() });
const rows = emergenceRows([...em, ...runs]);
await display(dotChart(rows.map((r) => ({ setting: r.setting, arch: r.arch, step: r.step ?? r.lastStep, censored: r.censored })),
  { x: "setting", y: "step", color: "arch", hollow: "censored", title: `First checkpoint with G > ${EMERGENCE_THRESHOLD} nat`, yTitle: "training step" }));

// %%
const table = emergenceTable(rows);
await display(aq.from(table.rows));

// %% [markdown]
// **Try it.** Train the same model with one knob changed and compare, e.g.
// `groundlab train --arch transformer --preset quick --knob pUnnamed=0.5 --out runs/unnamed50`
// then `groundlab eval runs/unnamed50`, or use `train({ ..., corpus: { knobs: { pUnnamed: 0.5 } } })` here.
