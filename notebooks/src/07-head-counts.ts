// %% [markdown]
// # 07 · The head-count table
//
// **Paper's result.** Both gather and aggregate heads grow in number over training; aggregate heads
// sit around layer 7-8 of 12 and gather heads early. This notebook builds the table per checkpoint:
// number of heads of each kind and their mean layer (0-based), for the Transformer and Mamba-2
// (whose SSD heads are classified with the same rule through their token-mixing matrices).
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 9 s once its runs exist; the first time, each `main` run is trained and analysed: 12.0 min for the Transformer, 9.2 for Mamba-2, 5.0 for the LSTM, two at a time (measured in `groundlab reproduce --preset quick` on the idle machine).

// %%
import { labRuns, overSeeds, lineChart, display, progressDisplay, interruptSignal } from "groundlab";
import * as aq from "arquero";
const runs = await labRuns({ groups: ["main"], onProgress: progressDisplay(), signal: interruptSignal() });

// %%
const withHeads = runs.filter((r) => r.label !== "lstm");
const table = aq.from(withHeads.flatMap((r) => r.tables.head_counts.map((x) => ({ model: r.label, seed: r.seed, ...x }))));
await display(table.select("model", "seed", "step", "aggregate_heads", "aggregate_mean_layer", "gather_heads", "gather_mean_layer", "total_heads"), { limit: 40 });

// %%
const rows = [
  ...overSeeds(withHeads, "head_counts", "aggregate_heads").map((r) => ({ ...r, series: `${r.label}: aggregate` })),
  ...overSeeds(withHeads, "head_counts", "gather_heads").map((r) => ({ ...r, series: `${r.label}: gather` })),
];
await display(lineChart(rows, { x: "step", y: "mean", color: "series", title: "Heads over training", yTitle: "number of heads" }));
