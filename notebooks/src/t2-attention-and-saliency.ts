// %% [markdown]
// # Teaching 2 · Attention and saliency
//
// Goals: read attention patterns from a cache; compute the paper's saliency `|A (elementwise) dL/dA|`
// for one head with a gradient; find the head that moves `v<ENV>` to the prediction position.
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 14 s once its runs exist; the first time, the one run it reads (the `main` Transformer) is trained and analysed: 12.0 min (measured in `groundlab reproduce --preset quick` on the idle machine), with a progress bar that says how far it is. The stop button stops it with what is done kept; running the cell again goes on from there.

// %%
import { tf, labRuns, pickRun, openRun, runEvalSet, evalSequences, saliency, heatmap, display } from "groundlab";
const runs = await labRuns({ groups: ["main"], archs: ["transformer"], weights: true }); // a progress bar while it trains; the stop button keeps what is done
const run = await openRun(pickRun(runs, "transformer").dir);
const model = await run.loadModel();
const seq = evalSequences(await runEvalSet(run), run.tokenizer).find((s) => s.condition === "match")!;
const tokens = run.tokenizer.decode(seq.ids);
const x = tf.tensor2d([seq.ids], [1, seq.ids.length], "int32");
model.hookPoints().filter((n) => n.startsWith("blocks.0."))

// %% [markdown]
// **Exercise 1.** Use `model.runWithCache(x, { names: [...] })` to get `blocks.{l}.attn.hook_pattern`
// ([1, H, T, T]) of the last layer, and draw head 0's map with `heatmap` (rows: query position).

// %%
// Solution 1
const L = model.config.nLayers - 1;
const { logits, cache } = model.runWithCache(x, { names: [`blocks.${L}.attn.hook_pattern`] });
const A = cache.get(`blocks.${L}.attn.hook_pattern`);
const T = seq.ids.length;
const a0 = tf.reshape(tf.slice(A, [0, 0, 0, 0], [1, 1, T, T]), [T, T]).arraySync() as number[][];
const cells = a0.flatMap((row, q) => row.map((v, k) => ({ query: `${q} ${tokens[q]}`, key: `${k} ${tokens[k]}`, attention: v })));
await display(heatmap(cells, { x: "key", y: "query", value: "attention", title: `Layer ${L}, head 0`, width: 420, height: 420 }));

// %% [markdown]
// **Exercise 2.** Saliency needs dL/dA. Replace the pattern through a hook by `A + 0 * probe` where
// `probe` is a variable of A's shape... or, simpler, use groundlab's `saliency(model, [seq], { keepMaps: true })`,
// which wraps A in an identity `customGrad` that records dL/dA. What share of each head's saliency
// flows from the ENV position (`seq.envPos`) to the prediction position (`seq.predPos`)?

// %%
// Solution 2
const sal = await saliency(model, [seq], { keepMaps: true });
const H = model.nHeads;
sal.heads.map((h) => ({ head: `L${h.layer}.H${h.head}`, envToPred: h.aggregateShare.toFixed(3), intoEnv: h.gatherShare.toFixed(3) }))

// %% [markdown]
// **Exercise 3.** Check one number by hand: for the head with the largest ENV -> prediction share,
// read its saliency map `sal.maps[0][layer * H + head]` (row-major [T*T]) and divide the
// `[predPos, envPos]` entry by the map's sum.

// %%
// Solution 3
const best = sal.heads.reduce((b, h) => (h.aggregateShare > b.aggregateShare ? h : b));
const m = sal.maps![0][best.layer * H + best.head];
const total = m.reduce((a, b) => a + b, 0);
({ head: `L${best.layer}.H${best.head}`, byHand: m[seq.predPos * T + seq.envPos] / total, groundlab: best.aggregateShare })

// %%
logits.dispose(); cache.dispose(); x.dispose(); model.dispose();
