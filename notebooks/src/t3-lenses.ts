// %% [markdown]
// # Teaching 3 · Logit lens and tuned lens
//
// Goals: read the residual stream after every block through the model's own final norm and
// unembedding (logit lens); see why a learned affine translator per layer (tuned lens) reads early
// layers better; find the layer where the match/mismatch gap appears.
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 16 s once its runs exist; the first time, the one run it reads (the `main` Transformer) is trained and analysed: 12.0 min (measured in `groundlab reproduce --preset quick` on the idle machine), with a progress bar that says how far it is. The stop button stops it with what is done kept; running the cell again goes on from there.

// %%
import { tf, labRuns, pickRun, openRun, runEvalSet, evalSequences, lensPoints, readout, lineChart, display } from "groundlab";
const runs = await labRuns({ groups: ["main"], archs: ["transformer"] }); // a progress bar while it trains; the stop button keeps what is done
const run = await openRun(pickRun(runs, "transformer").dir);
const model = await run.loadModel();
const seqs = evalSequences(await runEvalSet(run), run.tokenizer).slice(0, 40);
lensPoints(model)

// %% [markdown]
// **Exercise 1.** For each lens point (hook name), cache the residual stream, take the state at
// `predPos`, map it to logits with `readout(model, states)` and compute the mean surprisal of the
// target, separately for match and mismatch sequences.

// %%
// Solution 1
const points = lensPoints(model);
const rows: Array<{ layer: number; condition: string; surprisal: number }> = [];
for (const cond of ["match", "mismatch"] as const) {
  const sub = seqs.filter((s) => s.condition === cond);
  const sums = new Array(points.length).fill(0);
  for (const s of sub) {
    const x = tf.tensor2d([s.ids], [1, s.ids.length], "int32");
    const { logits, cache } = model.runWithCache(x, { names: points });
    points.forEach((p, l) => {
      sums[l] += tf.tidy(() => {
        const h = tf.reshape(tf.slice(cache.get(p), [0, s.predPos, 0], [1, 1, -1]), [1, -1]) as tf.Tensor2D; // [1, D]
        return -tf.logSoftmax(readout(model, h)).dataSync()[s.target];
      });
    });
    x.dispose(); logits.dispose(); cache.dispose();
  }
  sums.forEach((v, l) => rows.push({ layer: l, condition: cond, surprisal: v / sub.length }));
}
await display(lineChart(rows, { x: "layer", y: "surprisal", color: "condition", title: "Logit lens by hand", yTitle: "surprisal (nats)" }));

// %% [markdown]
// **Exercise 2.** Compare your numbers with groundlab's `analysis/lens` table (lens = "logit") at the
// same checkpoint (it uses the whole evaluation set, so expect close, not equal, numbers), and look
// at the tuned lens rows: at which layer does G first reach half of its final value?

// %%
// Solution 2
const last = run.checkpoints[run.checkpoints.length - 1].step;
const lens = ((await run.readTable("analysis/lens"))?.objects() ?? []) as Array<Record<string, number | string>>;
const here = lens.filter((r) => r.step === last);
const tuned = here.filter((r) => r.lens === "tuned");
const finalG = Number(tuned[tuned.length - 1]?.gain);
({ logitLens: here.filter((r) => r.lens === "logit").map((r) => ({ layer: r.layer, match: Number(r.match).toFixed(3), mismatch: Number(r.mismatch).toFixed(3) })),
   halfOfFinalG_atLayer: tuned.find((r) => Number(r.gain) >= finalG / 2)?.layer })

// %%
model.dispose();
