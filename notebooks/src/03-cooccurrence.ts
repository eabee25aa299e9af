// %% [markdown]
// # 03 · Information gain vs co-occurrence over training
//
// **Paper's result.** If the model only tracked how often `v<ENV>` and `v<LAN>` co-occur in the
// corpus, G(v) would be predicted by those counts. Regressing G on co-occurrence statistics at every
// checkpoint, R^2 rises early in training and then falls while G keeps rising: the model learns
// more than co-occurrence.
//
// groundlab counts, per noun, ENV and LAN occurrences and their co-occurrence within a window in the
// run's own training text, and fits G against them at every checkpoint (`analysis/cooccurrence`).
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 14 s once its runs exist; the first time, the one run it reads (the `main` Transformer) is trained and analysed: 12.0 min (measured in `groundlab reproduce --preset quick` on the idle machine), with a progress bar.

// %%
import { labRuns, pickRun, lineChart, display, progressDisplay, interruptSignal } from "groundlab";
const runs = await labRuns({ groups: ["main"], archs: ["transformer"], onProgress: progressDisplay(), signal: interruptSignal() });
const t = pickRun(runs, "transformer");
t.tables.cooccurrence.slice(0, 6)

// %%
await display(lineChart(t.tables.cooccurrence, { x: "step", y: "r2", color: "predictors", title: "R^2 of G against co-occurrence statistics (Transformer)", yTitle: "R^2" }));
await display(lineChart(t.tables.gain_summary, { x: "step", y: "gain", lo: "ci_lo", hi: "ci_hi", rule: 0, title: "G over the same checkpoints", yTitle: "G (nats)" }));

// %%
// Where R^2 (all predictors) peaks, and G there vs at the end.
const all = t.tables.cooccurrence.filter((r) => r.predictors === "all");
const peak = all.reduce((b, r) => (Number(r.r2) > Number(b.r2) ? r : b), all[0]);
const gAt = (s: unknown) => t.tables.gain_summary.find((r) => r.step === s)?.gain;
const end = all[all.length - 1];
({ peakStep: peak?.step, peakR2: peak?.r2, G_at_peak: gAt(peak?.step), lastStep: end?.step, lastR2: end?.r2, G_at_last: gAt(end?.step) })
