/** The architectures and switches the model tests run over (every registered architecture, every Transformer switch). */
import { ARCHS, type Arch } from '../../src/models';

/** Every registered architecture at tiny, plus the Transformer's switches. */
export const VARIANTS: Array<{ name: string; arch: Arch; over: Record<string, unknown> }> = [
  ...ARCHS.map((arch) => ({ name: arch, arch, over: {} })),
  { name: 'transformer positional=rope', arch: 'transformer', over: { positional: 'rope' } },
  { name: 'transformer positional=none', arch: 'transformer', over: { positional: 'none' } },
  ...(['uniform', 'static', 'none'] as const).map((m) => ({ name: `transformer mixing=${m}`, arch: 'transformer' as Arch, over: { mixing: m } })),
  { name: 'transformer similarity=linear', arch: 'transformer', over: { similarity: 'linear' } },
  { name: 'transformer qkFrom=embed', arch: 'transformer', over: { qkFrom: 'embed' } },
  { name: 'transformer mixing=none/softmax', arch: 'transformer', over: { mixing: 'none/softmax' } },
  { name: 'transformer mlp=none', arch: 'transformer', over: { mlp: 'none' } },
  { name: 'transformer mlp=none/gelu', arch: 'transformer', over: { mlp: 'none/gelu' } },
  { name: 'gru residual', arch: 'gru', over: { residual: true } },
];
