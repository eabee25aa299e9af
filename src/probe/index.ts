/**
 * Probing: what does a hidden state encode? Linear probes (logistic and ridge) at any hook point
 * and position, with a held-out split, chance levels and a control task; built-in tasks for the
 * grounding domain; sweeps over layers and checkpoints saved as tables in the run.
 */
export * from './linear';
export * from './evaluate';
export * from './collect';
export * from './tasks';
export * from './sweep';
export * from './figure';
