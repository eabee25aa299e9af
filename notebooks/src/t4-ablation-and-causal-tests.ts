// %% [markdown]
// # Teaching 4 · Ablation and causal tests
//
// Goals: zero one head through a hook and measure the effect on the surprisal of `v<LAN>`; see why
// a single number is not evidence (control heads, a paired test); patch activations from a match
// prompt into a mismatch prompt, the general tool of causal analysis.
//
// **Runtime** (`quick` preset, this project's 2-core machine, shared with other work): 31 s once its runs exist; the first time, the one run it reads (the `main` Transformer) is trained and analysed: 12.0 min (measured in `groundlab reproduce --preset quick` on the idle machine), with a progress bar that says how far it is. The stop button stops it with what is done kept; running the cell again goes on from there.

// %%
import { tf, labRuns, pickRun, openRun, runEvalSet, evalSequences, scoreSequences, ablationHooks, ablationTest, allHeads,
  activationPatching, pairedTest, display } from "groundlab";
import * as aq from "arquero";
const runs = await labRuns({ groups: ["main"], archs: ["transformer"] }); // a progress bar while it trains; the stop button keeps what is done
const run = await openRun(pickRun(runs, "transformer").dir);
const model = await run.loadModel();
const seqs = evalSequences(await runEvalSet(run), run.tokenizer);
const match = seqs.filter((s) => s.condition === "match");
const heads = allHeads(model);
heads.length

// %% [markdown]
// **Exercise 1.** For every head, zero its output (`ablationHooks(model, [head], "zero")` gives the
// hooks; `scoreSequences(model, seqs, { hooks })` scores with them) and report the mean change of
// match surprisal. Which head matters most?

// %%
// Solution 1
const intact = await scoreSequences(model, match);
const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;
const effects = [];
for (const h of heads) {
  const s = await scoreSequences(model, match, { hooks: ablationHooks(model, [h], "zero") });
  effects.push({ head: `L${h.layer}.H${h.head}`, layer: h.layer, index: h.head, delta: mean(s) - mean(intact) });
}
await display(aq.from(effects).orderby(aq.desc("delta")));

// %% [markdown]
// **Exercise 2.** Is the top head's effect more than zeroing *any* head would do? Use
// `ablationTest(model, match, [topHead], { draws: 5 })`: it compares with random control heads of the
// same number and runs a paired test over contexts.

// %%
// Solution 2
const top = effects.reduce((b, e) => (e.delta > b.delta ? e : b));
const res = await ablationTest(model, match, [{ layer: top.layer, head: top.index }], { draws: 5 });
({ head: top.head, ablated: res.ablated, control: res.control, intact: res.intact, p_vsControl: res.vsControl.pT, cohen_dz: res.vsControl.cohenDz })

// %% [markdown]
// **Exercise 3.** Activation patching: take pairs (mismatch prompt = corrupted, match prompt = clean,
// same frame) and patch the residual stream of each layer at the ENV position from clean into
// corrupted. Which layer recovers most of the match surprisal?

// %%
// Solution 3
const pairs = seqs.filter((s) => s.condition === "mismatch").slice(0, 30).map((m) => {
  const c = match.find((s) => s.item === m.item)!;
  return { clean: c.ids, corrupted: m.ids, target: c.target, marks: { env: c.envPos } };
});
const hooks = Array.from({ length: model.config.nLayers }, (_, l) => `blocks.${l}.hook_resid_post`);
const patched = await activationPatching(model, pairs, { hooks, positions: ["env", "last"] });
await display(aq.from(patched.map((r) => ({ hook: r.hook, position: r.position, recovery: r.recovery, clean: r.clean, corrupted: r.corrupted, patched: r.patched }))));

// %%
model.dispose();
