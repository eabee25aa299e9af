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
// (the same on the realistic corpus: 8-18 min each at load average 6-16) and the 27 `emergence`
// runs (G only: 3-13 min each; 100 min for 30, two at a time, at load average 6-16, when the sweep
// still trained the simple setting's three again instead of reading the main runs). At `medium`
// nothing here has been executed: the main runs are the noise group too, but the emergence sweep
// would train 27 runs of 1-2 hours each (the cost table of `docs/results-medium/REPORT.md`).

// %%
import { labRuns, overSeeds, lineChart, dotChart, display, progressDisplay, interruptSignal, SYNTHETIC_SETTINGS,
  emergenceRows, emergenceTable, EMERGENCE_THRESHOLD } from "groundlab";
import * as aq from "arquero";
await display(aq.from(Object.entries(SYNTHETIC_SETTINGS).map(([name, k]) => ({ setting: name, ...k }))));

// %% [markdown]
// ## The main comparison on both settings
// At `quick` the `main` runs use the simple setting and the `noise` runs the realistic one: the same
// three architectures, seeds and steps. At `medium` the main runs are already on the realistic
// setting, so they are the noise group too (nothing is trained twice), and the simple setting comes
// from the emergence sweep below.

// %%
const runs = await labRuns({ groups: ["main", "noise"], onProgress: progressDisplay(), signal: interruptSignal() });
// Each run's corpus setting is in its config (at medium the main runs are on the realistic one).
const settingOf = new Map(runs.map((r) => [r.label, r.setting]));
const gain = overSeeds(runs, "gain_summary", "gain").map((r) => ({
  ...r,
  arch: String(r.label).split(" ")[0],
  corpus: settingOf.get(String(r.label)),
}));
await display(lineChart(gain.map((r) => ({ ...r, series: `${r.arch}, ${r.corpus}` })), { x: "step", y: "mean", color: "series", rule: 0, title: "G on the simple vs the realistic corpus", yTitle: "G (nats)" }));

// %%
// G at the last checkpoint, per architecture and corpus.
aq.from(gain).groupby("arch", "corpus").filter((d) => d.step === aq.op.max(d.step)).select("arch", "corpus", "step", "mean").objects()

// %% [markdown]
// ## When does grounding emerge?
// The `emergence` runs train each architecture on the simple setting with one noise knob of the
// realistic setting at its realistic value (a distractor and the chance it is named go together),
// and on the whole setting the main runs do not train (realistic at `quick`, simple at `medium`);
// only G is measured, at every checkpoint. The emergence step is the first checkpoint with G above
// 1 nat; a hollow dot: not within the run. The main runs' setting comes from the main runs (their
// first seed is part of the sweep; the `main` and `noise` runs above count too, once): pass
// `seeds: [0, 1, 2]` to both `labRuns` calls to get the two whole settings over three seeds, as
// `docs/results-quick/REPORT.md` has them. (With `tiny`, a smoke run, the sweep has the
// Transformer only.)

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
