/**
 * A small declarative argument parser shared by every command: typed options, positionals,
 * generated `--help`, and errors that name the argument and what to do.
 */
import { GroundlabError } from '../errors';
import { nearestName } from '../names';

export interface OptionSpec {
  type: 'string' | 'number' | 'int' | 'boolean' | 'list';
  help: string;
  default?: string | number | boolean | string[];
  /** Allowed values (strings). */
  choices?: string[];
  short?: string;
}

export interface CommandSpec {
  name: string; // e.g. "train" or "corpus generate"
  summary: string;
  positionals?: Array<{ name: string; help: string; optional?: boolean; variadic?: boolean }>;
  options: Record<string, OptionSpec>;
  examples?: string[];
}

export interface Command {
  run(argv: string[]): Promise<number | void>;
}

export type Parsed = {
  positionals: string[];
  options: Record<string, string | number | boolean | string[] | undefined>;
  help: boolean;
};

export function helpText(spec: CommandSpec): string {
  const pos = (spec.positionals ?? []).map((p) =>
    p.optional ? `[${p.name}${p.variadic ? '...' : ''}]` : `<${p.name}${p.variadic ? '...' : ''}>`,
  );
  const lines = [`usage: groundlab ${spec.name} ${pos.join(' ')} [options]`.replace(/\s+/g, ' ').trim(), '', spec.summary, ''];
  if (spec.positionals?.length) {
    lines.push('arguments:');
    for (const p of spec.positionals) lines.push(`  ${p.name.padEnd(22)} ${p.help}`);
    lines.push('');
  }
  lines.push('options:');
  for (const [k, o] of Object.entries(spec.options)) {
    const flag = `--${k}${o.type === 'boolean' ? '' : ` <${o.choices ? o.choices.join('|') : o.type}>`}`;
    const def =
      o.default !== undefined && o.default !== false ? ` (default: ${Array.isArray(o.default) ? o.default.join(',') : o.default})` : '';
    lines.push(`  ${flag.padEnd(30)} ${o.help}${def}`);
  }
  lines.push(`  ${'--help'.padEnd(30)} show this help`);
  if (spec.examples?.length) lines.push('', 'examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

function convert(spec: CommandSpec, key: string, o: OptionSpec, raw: string): string | number | string[] {
  const bad = (what: string) =>
    new GroundlabError('BAD_ARGUMENT', `--${key} ${JSON.stringify(raw)}: ${what}`, { hint: `see \`groundlab ${spec.name} --help\`` });
  if (o.type === 'number' || o.type === 'int') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw bad('expected a number');
    if (o.type === 'int' && !Number.isInteger(n)) throw bad('expected a whole number');
    if (o.type === 'int' && !Number.isSafeInteger(n))
      throw bad(`beyond 2^53 - 1 (${Number.MAX_SAFE_INTEGER}): it cannot be represented exactly (it would read as ${n})`);
    return n;
  }
  if (o.type === 'list') {
    const xs = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (o.choices) for (const x of xs) if (!o.choices.includes(x)) throw bad(`"${x}" is not one of ${o.choices.join(', ')}`);
    return xs;
  }
  if (o.choices && !o.choices.includes(raw)) throw bad(`expected one of ${o.choices.join(', ')}`);
  return raw;
}

/** Parse argv against a spec. Unknown options, missing values and bad types are GroundlabErrors. */
export function parseArgs(spec: CommandSpec, argv: string[]): Parsed {
  const options: Parsed['options'] = {};
  for (const [k, o] of Object.entries(spec.options)) options[k] = o.default;
  const positionals: string[] = [];
  let help = false;
  const shorts = new Map(
    Object.entries(spec.options)
      .filter(([, o]) => o.short)
      .map(([k, o]) => [o.short as string, k]),
  );
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      let key: string;
      let value: string | undefined;
      if (a.startsWith('--')) {
        const eq = a.indexOf('=');
        key = eq >= 0 ? a.slice(2, eq) : a.slice(2);
        value = eq >= 0 ? a.slice(eq + 1) : undefined;
      } else {
        key = shorts.get(a.slice(1)) ?? a.slice(1);
      }
      let o = spec.options[key];
      if (!o && key.startsWith('no-') && spec.options[key.slice(3)]?.type === 'boolean') {
        options[key.slice(3)] = false;
        continue;
      }
      if (!o) {
        const closest = nearestName(key, Object.keys(spec.options));
        const near = closest ? [closest] : Object.keys(spec.options).filter((k) => k.startsWith(key.slice(0, 3)));
        throw new GroundlabError('BAD_ARGUMENT', `unknown option ${a}`, {
          hint: near.length ? `did you mean ${near.map((k) => '--' + k).join(' or ')}? ` : `see \`groundlab ${spec.name} --help\``,
        });
      }
      if (o.type === 'boolean') {
        if (value !== undefined && !['true', 'false', '1', '0'].includes(value))
          throw new GroundlabError('BAD_ARGUMENT', `--${key} takes no value or true/false, got "${value}"`);
        options[key] = value === undefined ? true : value === 'true' || value === '1';
        continue;
      }
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined)
          throw new GroundlabError('BAD_ARGUMENT', `--${key} needs a value (${o.type})`, { hint: `see \`groundlab ${spec.name} --help\`` });
      }
      options[key] = convert(spec, key, o, value);
      continue;
    }
    positionals.push(a);
  }
  if (!help) {
    const req = (spec.positionals ?? []).filter((p) => !p.optional);
    if (positionals.length < req.length) {
      throw new GroundlabError('BAD_ARGUMENT', `missing argument <${req[positionals.length].name}>`, {
        hint: `usage: see \`groundlab ${spec.name} --help\``,
      });
    }
    const max = spec.positionals?.some((p) => p.variadic) ? Infinity : (spec.positionals ?? []).length;
    if (positionals.length > max)
      throw new GroundlabError('BAD_ARGUMENT', `unexpected argument "${positionals[max]}"`, {
        hint: `see \`groundlab ${spec.name} --help\``,
      });
  }
  return { positionals, options, help };
}

/** Define a command from a spec and a handler; `--help` is handled here. */
export function defineCommand(spec: CommandSpec, handler: (p: Parsed) => Promise<number | void>): Command & { spec: CommandSpec } {
  return {
    spec,
    async run(argv: string[]) {
      const parsed = parseArgs(spec, argv);
      if (parsed.help) {
        process.stdout.write(helpText(spec) + '\n');
        return 0;
      }
      return handler(parsed);
    },
  };
}
