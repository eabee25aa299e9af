// %% [markdown]
// # Teaching 1 · Surprisal and grounding information gain
//
// Goals: compute the surprisal of a word from a model's logits by hand; build match and mismatch
// contexts; compute G(v) yourself and check it against groundlab's table.
//
// Surprisal: `s(w | c) = -log P(w | c)`. Grounding information gain of word v over N contexts and
// M mismatched words u != v: `G(v) = 1/N sum_n 1/M sum_u [ s(v<LAN> | c_n(u<ENV>)) - s(v<LAN> | c_n(v<ENV>)) ]`.
// Each exercise has a solution cell right after it: try first, then run the solution.
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 14 s once its runs exist; the first time, the one run it reads (the `main` Transformer) is trained and analysed: 12.0 min (measured in `groundlab reproduce --preset quick` on the idle machine), with a progress bar that says how far it is. The stop button stops it with what is done kept; running the cell again goes on from there.

// %%
import { tf, labRuns, pickRun, openRun, runEvalSet, evalSequences, scoreSequences, groundingGain, display } from "groundlab";
import * as aq from "arquero";
const runs = await labRuns({ groups: ["main"], archs: ["transformer"], weights: true }); // a progress bar while it trains; the stop button keeps what is done
const run = await openRun(pickRun(runs, "transformer").dir);
const model = await run.loadModel();          // the last checkpoint
const tok = run.tokenizer;
const set = await runEvalSet(run);
const seqs = evalSequences(set, tok);
const ex = seqs[0];
({ context: tok.decode(ex.ids).join(" "), predict: tok.token(ex.target), condition: ex.condition })

// %% [markdown]
// **Exercise 1.** Run the model on `ex.ids` (a `[1, T]` int32 tensor), take the logits at the last
// position, and compute the surprisal of `ex.target` in nats (hint: `tf.logSoftmax`).

// %%
// Solution 1
const s1 = tf.tidy(() => {
  const logits = model.forward(tf.tensor2d([ex.ids], [1, ex.ids.length], "int32")); // [1, T, V]
  const last = tf.reshape(tf.slice(logits, [0, ex.ids.length - 1, 0], [1, 1, -1]), [-1]); // [V]
  return -tf.logSoftmax(last).dataSync()[ex.target];
});
const lib = (await scoreSequences(model, [ex]))[0];
({ byHand: s1, groundlab: lib })

// %% [markdown]
// **Exercise 2.** The evaluation set pairs every match context with M mismatches (same frame, another
// noun's ENV token). Score all sequences, then compute G for the first noun by the formula above.

// %%
// Solution 2
const surprisal = await scoreSequences(model, seqs);
const noun = seqs[0].noun;
const byContext = new Map<string, { match?: number; mismatch: number[] }>();
seqs.forEach((s, i) => {
  if (s.noun !== noun) return;
  const e = byContext.get(s.context) ?? { mismatch: [] };
  if (s.condition === "match") e.match = surprisal[i]; else e.mismatch.push(surprisal[i]);
  byContext.set(s.context, e);
});
const perContext = [...byContext.values()].map((e) => e.mismatch.reduce((a, b) => a + b, 0) / e.mismatch.length - e.match!);
const G_byHand = perContext.reduce((a, b) => a + b, 0) / perContext.length;
const records = seqs.map((s, i) => ({ noun: s.noun, context: s.context, condition: s.condition, envNoun: s.envNoun, surprisal: surprisal[i] }));
({ noun, G_byHand, G_groundlab: groundingGain(records).find((g) => g.noun === noun)!.gain })

// %% [markdown]
// **Exercise 3.** Which nouns are grounded best and worst at this checkpoint? Make a table of G per
// noun, sorted. Is there a pattern (e.g. the noun's frequency)?

// %%
// Solution 3
await display(aq.from(groundingGain(records)).orderby(aq.desc("gain")).select("noun", "gain", "matchSurprisal", "mismatchSurprisal"), { limit: 10 });
model.dispose();
