#!/usr/bin/env node
/**
 * The payload contract lives once, in ../schema/*.schema.json. This script generates from them
 * ../src/contract.generated.ts: the schemas as constants (the renderer validates every payload
 * against them) and the TypeScript types of the payloads, which both the extension (src/payload.ts)
 * and groundlab's producer (src/viz/widgets.ts) import. Run it after editing a schema:
 *
 *   node extension/scripts/gen-contract.mjs           # rewrite src/contract.generated.ts
 *   node extension/scripts/gen-contract.mjs --check   # exit 1 if the file is not what the schemas give
 *
 * groundlab's test suite runs the --check form, so a schema and its types cannot drift apart.
 * Only the keywords that extension/src/schema.ts validates are accepted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXT = path.resolve(HERE, '..');
const OUT = path.join(EXT, 'src', 'contract.generated.ts');
const SCHEMAS = [
  { file: 'inspector.schema.json', constName: 'INSPECTOR_SCHEMA', typeName: 'InspectorPayload' },
  { file: 'timeline.schema.json', constName: 'TIMELINE_SCHEMA', typeName: 'TimelinePayload' },
  { file: 'circuit.schema.json', constName: 'CIRCUIT_SCHEMA', typeName: 'CircuitPayload' },
  { file: 'das.schema.json', constName: 'DAS_SCHEMA', typeName: 'DasPayload' },
  { file: 'bindinggrid.schema.json', constName: 'BINDING_GRID_SCHEMA', typeName: 'BindingGridPayload' },
];
const KEYWORDS = new Set(['type', 'enum', 'const', 'required', 'properties', 'additionalProperties', 'items', 'minItems', 'minimum', 'minProperties', '$ref', '$defs', 'title', 'description', '$schema', '$id', 'contentEncoding']);

function fail(msg) {
  console.error(`gen-contract: ${msg}`);
  process.exit(1);
}

function checkKeywords(s, at) {
  for (const [k, v] of Object.entries(s)) {
    if (!KEYWORDS.has(k)) fail(`${at}: keyword "${k}" is not supported by extension/src/schema.ts (add it there first)`);
    if (k === 'properties' || k === '$defs') for (const [n, sub] of Object.entries(v)) checkKeywords(sub, `${at}/${k}/${n}`);
    if ((k === 'items' || k === 'additionalProperties') && v && typeof v === 'object') checkKeywords(v, `${at}/${k}`);
  }
}

const pascal = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const ident = (s) => /^[A-Za-z_$][\w$]*$/.test(s);

function doc(text, indent) {
  if (!text) return '';
  return `${indent}/** ${String(text).replace(/\*\//g, '* /')} */\n`;
}

function generate() {
  const types = [];
  const consts = [];
  const defNames = new Map();
  for (const spec of SCHEMAS) {
    const schema = JSON.parse(fs.readFileSync(path.join(EXT, 'schema', spec.file), 'utf8'));
    checkKeywords(schema, spec.file);
    const defs = schema.$defs ?? {};
    const local = new Map();
    for (const [name, d] of Object.entries(defs)) {
      const tn = d.title && ident(d.title) ? d.title : pascal(name);
      if (defNames.has(tn) && defNames.get(tn) !== JSON.stringify(d)) fail(`${spec.file}: type name ${tn} is defined differently in two schemas`);
      local.set(`#/$defs/${name}`, tn);
    }
    const ts = (s, indent) => {
      if (s.$ref) {
        const n = local.get(s.$ref);
        if (!n) fail(`${spec.file}: cannot resolve ${s.$ref}`);
        return n;
      }
      if ('const' in s) return JSON.stringify(s.const);
      if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
      const list = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
      if (list.length === 0) return 'unknown';
      return list.map((t) => {
        switch (t) {
          case 'string': return 'string';
          case 'number':
          case 'integer': return 'number';
          case 'boolean': return 'boolean';
          case 'null': return 'null';
          case 'array': {
            const inner = s.items ? ts(s.items, indent) : 'unknown';
            return /[|&]/.test(inner) ? `(${inner})[]` : `${inner}[]`;
          }
          case 'object': {
            const props = s.properties ?? {};
            const req = new Set(s.required ?? []);
            const keys = Object.keys(props);
            if (keys.length === 0) return s.additionalProperties && typeof s.additionalProperties === 'object' ? `Record<string, ${ts(s.additionalProperties, indent)}>` : 'Record<string, unknown>';
            const inner = indent + '  ';
            const lines = keys.map((k) => `${doc(props[k].description, inner)}${inner}${ident(k) ? k : JSON.stringify(k)}${req.has(k) ? '' : '?'}: ${ts(props[k], inner)};`);
            return `{\n${lines.join('\n')}\n${indent}}`;
          }
          default: fail(`${spec.file}: unknown type ${t}`);
        }
      }).join(' | ');
    };
    for (const [name, d] of Object.entries(defs)) {
      const tn = local.get(`#/$defs/${name}`);
      if (defNames.has(tn)) continue;
      defNames.set(tn, JSON.stringify(d));
      types.push(`${doc(d.description, '')}export type ${tn} = ${ts(d, '')};`);
    }
    types.push(`${doc(`${schema.title}. ${schema.description ?? ''}`, '')}export interface ${spec.typeName} ${ts({ ...schema, type: 'object' }, '')}`);
    consts.push(`/** ${spec.file}, as the validator reads it. */\nexport const ${spec.constName}: JsonSchema = ${JSON.stringify(schema, null, 2)};`);
  }
  return [
    '/* eslint-disable */',
    '// GENERATED by extension/scripts/gen-contract.mjs from extension/schema/*.schema.json: do not edit.',
    '// Edit the schemas, then run `node extension/scripts/gen-contract.mjs`; the tests check this file is current.',
    "import type { JsonSchema } from './schema';",
    '',
    types.join('\n\n'),
    '',
    consts.join('\n\n'),
    '',
  ].join('\n');
}

const text = generate();
if (process.argv.includes('--check')) {
  const have = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '';
  if (have !== text) fail(`${path.relative(process.cwd(), OUT)} is out of date with extension/schema/*.schema.json: run node extension/scripts/gen-contract.mjs`);
  console.log('gen-contract: up to date');
} else {
  fs.writeFileSync(OUT, text);
  console.log(`gen-contract: wrote ${path.relative(process.cwd(), OUT)}`);
}
