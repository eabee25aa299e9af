// Causal abstraction (issue 19): programs, interventions, DAS, over a run's checkpoints; see docs/causal.md.
export {
  PROGRAM_NAMES,
  causalProgram,
  trace,
  counterfactual,
  sampleCounterfactuals,
  sampleFlips,
  type ProgramName,
  type CausalProgram,
  type Counterfactual,
  type FlipCounterfactual,
  type FlipOptions,
} from './programs';
export {
  hookSite,
  stateSite,
  siteFor,
  interchange,
  encodePairs,
  encodeFlips,
  evaluateIia,
  evaluateFlips,
  fitDas,
  identitySubspace,
  randomSubspace,
  probeDirection,
  orthonormalityError,
  padIdOf,
  type InterventionSite,
  type SiteEdit,
  type EncodedPair,
  type EncodedFlip,
  type IiaResult,
  type DasFit,
  type DasOptions,
} from './das';
export { fitBoundlessDas } from './boundless';
export { dasRun, type DasRunOptions, type DasRow } from './run';
export { dasFlips, type FlipRunOptions, type FlipRow } from './flips';
export {
  groundingDas,
  groundingPairs,
  groundingDasSummary,
  GROUNDING_DAS_SHARE,
  GROUNDING_DAS_MIN_CEILING,
  type GroundingDasOptions,
  type GroundingDasRow,
  type GroundingDasSummaryRow,
} from './grounding';
export { countingAccuracy, type CountAccuracy } from './task';
export { plantedCounter, plantedReferent } from './toy';
