/**
 * The registry of architectures: one line per architecture. Everything outside src/models
 * (trainer, CLI, analyses, export, benchmark) finds an architecture here and reads its adapter.
 */
import { GroundlabError } from '../errors';
import type { ArchAdapter } from './adapter';
import type { Arch, BaseModelConfig } from './types';
import { transformerAdapter } from './transformer';
import { mamba2Adapter } from './mamba2';
import { lstmAdapter } from './lstm';
import { gruAdapter } from './gru';
import { glaAdapter } from './gla';

export const ADAPTERS: { readonly [A in Arch]: ArchAdapter<BaseModelConfig & { arch: A }> } = {
  transformer: transformerAdapter as unknown as ArchAdapter<BaseModelConfig & { arch: 'transformer' }>,
  mamba2: mamba2Adapter as unknown as ArchAdapter<BaseModelConfig & { arch: 'mamba2' }>,
  lstm: lstmAdapter as unknown as ArchAdapter<BaseModelConfig & { arch: 'lstm' }>,
  gru: gruAdapter as unknown as ArchAdapter<BaseModelConfig & { arch: 'gru' }>,
  gla: glaAdapter as unknown as ArchAdapter<BaseModelConfig & { arch: 'gla' }>,
};

/** Every registered architecture, in registry order. */
export const ARCHS: readonly Arch[] = Object.keys(ADAPTERS) as Arch[];

export function isArch(x: unknown): x is Arch {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(ADAPTERS, x);
}

/** The adapter of an architecture (BAD_ARGUMENT naming the known ones otherwise). */
export function adapterFor(arch: string): ArchAdapter {
  if (!isArch(arch))
    throw new GroundlabError('BAD_ARGUMENT', `unknown architecture "${arch}"`, { hint: `use one of: ${ARCHS.join(', ')}` });
  return ADAPTERS[arch] as unknown as ArchAdapter;
}
