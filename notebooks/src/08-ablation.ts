// %% [markdown]
// # 08 · The ablation table
//
// **Paper's result** (12-layer Transformer; p < 0.001 for the intervention):
//
// | checkpoint | aggregate heads | mean layer | surprisal, aggregate heads zeroed | control heads zeroed | intact |
// |---|---|---|---|---|---|
// | 5000 | 2.28 | 7.38 | 6.51 | 6.39 | 6.38 |
// | 10000 | 5.09 | 7.28 | 5.86 | 5.29 | 5.30 |
// | 20000 | 6.71 | 7.52 | 5.62 | 4.76 | 4.77 |
//
// groundlab zeroes the outputs of the aggregate heads (through `blocks.{l}.attn.hook_z`), compares the
// match-condition surprisal of `v<LAN>` with zeroing as many randomly drawn control heads (repeated
// draws, seeded) and with the intact model, and tests the paired difference over contexts.
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 11 s once its runs exist; the first time, each `main` run is trained and analysed: 12.0 min for the Transformer, 9.2 for Mamba-2, 5.0 for the LSTM, two at a time (measured in `groundlab reproduce --preset quick` on the idle machine).

// %%
import { labRuns, ablationTable, display, progressDisplay, interruptSignal } from "groundlab";
import * as aq from "arquero";
const runs = await labRuns({ groups: ["main"], onProgress: progressDisplay(), signal: interruptSignal() });

// %%
const rows = ablationTable(runs, "transformer", "aggregate").map((r) => ({
  checkpoint: r.step, "aggregate heads": r.heads, "mean layer": r.mean_layer,
  "surprisal, aggregate zeroed": r.ablated, "control zeroed": r.control, intact: r.intact, p: r.p_text }));
await display(aq.from(rows));

// %%
// Every row of the raw table (one per checkpoint and head kind, with the test statistics).
await display(aq.from(runs.filter((r) => r.label === "transformer").flatMap((r) => r.tables.ablation)), { limit: 30 });
