/**
 * groundlab: the public API. `import { ... } from "groundlab"`.
 * Each stage has its own barrel (src/<stage>/index.ts); this file only re-exports them.
 */
export * from './errors';
export * from './engine';
export * from './models';
export * from './data';
export * from './train';
export * from './io';
export * from './eval';
export * from './metrics';
export * from './analysis';
export * from './viz';
export * from './notebook';
export * from './probe';
export * from './causal';
export * from './reproduce';
export * from './lab';
export * from './sweep';
export { main as cli } from './cli/main';
// Both the model and the train presets use the same preset names; one export settles the ambiguity.
export { type PresetName, PRESET_NAMES } from './models';
import * as tf from '@tensorflow/tfjs-core';
export { tf };
