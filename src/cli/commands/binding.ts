/**
 * `groundlab binding <run> [--step N] [--pairs 200]`: the binding analyses of one checkpoint of a
 * binding run. Scenes (symbolic text or patches, src/analysis/binding.ts): accuracy by number of
 * objects and on held-out combinations, per-head causal mediation and the three roles, position-ID
 * patching, similarity by slot vs. features. Text entities (src/analysis/entitybinding.ts): accuracy
 * by slot, mechanism patching per layer, the mixture model and its agreement. Writes
 * `<run>/analysis/binding.arrow` and prints the tables.
 */
import { GroundlabError } from '../../errors';
import { defineCommand, type Command } from '../args';
import { initEngine } from '../../engine';
import { openRun, sigintAbort } from '../../train';
import { bindingRun, type ErrorProbe } from '../../analysis/binding';
import { entityBindingRun, MECHANISM_OUTCOMES, MIN_MIXTURE_PAIRS, type EntityReport } from '../../analysis/entitybinding';
import { bindingVariant } from '../../data/binding';
import { textTable } from '../../analysis/report';

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');

export const command: Command = defineCommand(
  {
    name: 'binding',
    summary:
      'Binding mechanisms of one checkpoint of a binding run: scenes (text or patches): accuracy by objects, per-head mediation and roles, position-ID patching, similarity; entities: accuracy by slot, mechanism patching, the mixture model.',
    positionals: [{ name: 'run', help: 'run directory of a binding run (`groundlab train --corpus-kind binding`)' }],
    options: {
      step: { type: 'int', help: 'checkpoint step (default: the last)' },
      pairs: { type: 'int', default: 200, help: 'counterfactual pairs per kind (swap-slots, change-feature, change-cue)' },
      'per-count': { type: 'int', default: 100, help: 'accuracy scenes per number of objects' },
      'id-threshold': { type: 'number', default: 0.5, help: 'swap-slots mediation from which a head is an ID head' },
      'feature-threshold': { type: 'number', default: 0.5, help: 'change-feature mediation from which a head is a feature retrieval head' },
      'last-share': {
        type: 'number',
        default: 0.5,
        help: "share of an ID head's mediation at the last position from which it is an ID selection head",
      },
      seed: { type: 'int', default: 0, help: 'seed of the scenes and pairs' },
      'per-slot': { type: 'int', default: 20, help: 'entities runs: accuracy contexts per (groups, queried slot)' },
      'max-groups': {
        type: 'int',
        help: "entities runs: contexts of minGroups..this many groups (default: the run's maxGroups; more tests contexts longer than trained)",
      },
      cells: {
        type: 'string',
        default: 'region',
        choices: ['region', 'groups', 'groups-region'],
        help: "entities runs: the mixture model's cells (weights shared within a cell)",
      },
    },
    examples: [
      'groundlab binding runs/bind-quick',
      'groundlab binding runs/bind-quick --step 1500 --pairs 100 --id-threshold 0.3',
      'groundlab binding runs/ent-quick --pairs 400 --cells groups-region',
    ],
  },
  async ({ positionals, options: o }) => {
    await initEngine();
    const abort = sigintAbort();
    try {
      const run = await openRun(positionals[0]);
      const pairs = o.pairs as number;
      if (!(pairs >= 1)) throw new GroundlabError('BAD_ARGUMENT', `--pairs ${pairs}: expected at least 1`);
      if (run.config.corpus.kind === 'binding' && bindingVariant(run.config.corpus.knobs) === 'entities') {
        const r = await entityBindingRun(run, {
          step: o.step as number | undefined,
          pairs,
          perSlot: o['per-slot'] as number,
          maxGroups: o['max-groups'] as number | undefined,
          cells: o.cells as 'region' | 'groups' | 'groups-region',
          seed: o.seed as number,
          signal: abort.signal,
        });
        process.stdout.write(entityText(run.dir, r));
        return 0;
      }
      const r = await bindingRun(run, {
        step: o.step as number | undefined,
        pairs,
        perCount: o['per-count'] as number,
        thresholds: { id: o['id-threshold'] as number, feature: o['feature-threshold'] as number, lastShare: o['last-share'] as number },
        seed: o.seed as number,
        signal: abort.signal,
      });
      const acc = [
        ...r.accuracy.byObjects.map((b) => ({ set: `${b.objects} objects`, accuracy: f3(b.accuracy), n: b.n })),
        { set: 'all', accuracy: f3(r.accuracy.accuracy), n: r.accuracy.n },
        ...(r.heldOut ? [{ set: 'held-out combinations', accuracy: f3(r.heldOut.accuracy), n: r.heldOut.n }] : []),
      ];
      const roles = r.roles.map((h) => ({ ...h, id: f3(h.id), idLast: f3(h.idLast), feature: f3(h.feature), cue: f3(h.cue) }));
      const pp = r.positionPatching.map((p) => ({ ...p, redirect: f3(p.redirect), mediation: f3(p.mediation) }));
      process.stdout.write(
        [
          `run ${run.dir}, step ${r.step} (${r.seconds.toFixed(1)} s)`,
          textTable(acc, [
            ['set', 'scenes'],
            ['accuracy', 'accuracy'],
            ['n', 'n'],
          ]),
          `errors: ${r.accuracy.errors.n} (another object's attribute ${r.accuracy.errors.otherObject}, by slot offset ${r.accuracy.errors.bySlotOffset.map((x) => `${x.offset > 0 ? '+' : ''}${x.offset}: ${x.n}`).join(', ') || '-'}; absent feature ${r.accuracy.errors.absentFeature}; other ${r.accuracy.errors.other})`,
          probeText(r.errorProbe),
          '',
          'per-head mediation (swap-slots = position ID, change-feature = feature, change-cue = query) and roles',
          textTable(roles, [
            ['name', 'head'],
            ['id', 'id'],
            ['idLast', 'id (last)'],
            ['feature', 'feature'],
            ['cue', 'cue'],
            ['role', 'role'],
          ]),
          '',
          'position-ID patching (residual stream entering each layer, from swap-slots sources)',
          textTable(pp, [
            ['hook', 'hook'],
            ['positions', 'at'],
            ['redirect', 'redirected'],
            ['mediation', 'mediation'],
            ['n', 'n'],
          ]),
          '',
          'similarity of object states at their shape token (centred cosine): same slot, other features vs. same features, other slot',
          textTable(
            r.similarity.map((x) => ({
              hook: x.hook,
              samePosition: f3(x.samePosition),
              sameFeatures: f3(x.sameFeatures),
              unrelated: f3(x.unrelated),
            })),
            [
              ['hook', 'hook'],
              ['samePosition', 'same position'],
              ['sameFeatures', 'same features'],
              ['unrelated', 'unrelated'],
            ],
          ),
          '',
        ].join('\n'),
      );
      return 0;
    } finally {
      abort.dispose();
    }
  },
);

/** The tables of an entities run's report. */
/** The error probe's summary line: which position the model carried on its wrong answers. */
function probeText(p: ErrorProbe): string {
  if (!p.best) return `error probe: not fitted (${p.right} right answers over fewer than 2 positions, or fewer than 8)`;
  const b = p.best;
  const head = `error probe (position of the target read at the answer position, trained on ${b.nTrain} right answers): best at ${b.hook}, held-out accuracy ${f3(b.probeAccuracy)} (chance ${f3(b.chance)})`;
  return b.nErrors
    ? `${head}; of ${b.nErrors} wrong answers, ${f3(b.wrongPosition)} carried a wrong position (the probe misses ${f3(1 - b.probeAccuracy)} of right answers), ${f3(b.saidObject)} the position of the object said`
    : `${head}; no wrong answers to decode`;
}

function entityText(dir: string, r: EntityReport): string {
  const slots = [...new Set(r.accuracy.bySlot.map((s) => s.slot))].sort((a, b) => a - b);
  const bySlot = r.accuracy.byGroups.map((g) => ({
    groups: String(g.groups),
    all: f3(g.accuracy),
    ...Object.fromEntries(
      slots.map((s) => {
        const c = r.accuracy.bySlot.find((x) => x.groups === g.groups && x.slot === s);
        return [`s${s}`, c ? f3(c.accuracy) : ''];
      }),
    ),
  }));
  const e = r.accuracy.errors;
  const mix = r.mixture;
  const mixText = mix
    ? [
        `mixture model at ${mix.hook} (cells by ${mix.cells}; fitted on ${mix.train.n} pairs, tested on ${mix.heldOut.n})`,
        textTable(
          mix.fit.cells.map((c) => ({
            cell: c.cell,
            positional: f3(c.weights.positional),
            lexical: f3(c.weights.lexical),
            reflexive: f3(c.weights.reflexive),
            noise: f3(c.weights.noise),
            sigma: String(c.sigma),
            n: c.n,
          })),
          [
            ['cell', 'cell'],
            ['positional', 'positional'],
            ['lexical', 'lexical'],
            ['reflexive', 'reflexive'],
            ['noise', 'noise'],
            ['sigma', 'sigma'],
            ['n', 'n'],
          ],
        ),
        `agreement, held out: top-1 ${f3(mix.heldOut.top1)}, JS similarity ${f3(mix.heldOut.jsSimilarity)} (fitted: ${f3(mix.train.top1)}); one mechanism alone: ${mix.restricted.map((x) => `${x.components[0]} ${f3(x.heldOut.top1)}`).join(', ')}`,
        `held out by number of groups: ${mix.byGroups.map((g) => `${g.groups}: top-1 ${f3(g.top1)}, JS ${f3(g.jsSimilarity)} (${g.n})`).join('; ')}`,
      ]
    : [`no mixture model: ${r.patching.n} pairs answered right on base and source (it needs ${MIN_MIXTURE_PAIRS})`];
  return [
    `run ${dir}, step ${r.step} (${r.seconds.toFixed(1)} s)`,
    'accuracy by number of groups and by queried slot',
    textTable(bySlot, [['groups', 'groups'], ['all', 'all'], ...slots.map((s) => [`s${s}`, `slot ${s}`] as [string, string])]),
    `errors: ${e.n} (another group's ${e.otherGroup}, by slot offset ${e.bySlotOffset.map((x) => `${x.offset > 0 ? '+' : ''}${x.offset}: ${x.n}`).join(', ') || '-'}; other ${e.other})`,
    '',
    `mechanism patching (residual stream at the last position from the source; ${r.patching.n} pairs right on base and source; base ${f3(r.patching.baseAccuracy)}, source ${f3(r.patching.sourceAccuracy)})`,
    textTable(
      r.patching.rows.map((x) => ({ hook: x.hook, ...Object.fromEntries(MECHANISM_OUTCOMES.map((o) => [o, f3(x.shares[o])])) })),
      [['hook', 'hook'], ...MECHANISM_OUTCOMES.map((o) => [o, o] as [string, string])],
    ),
    '',
    ...mixText,
    '',
  ].join('\n');
}
