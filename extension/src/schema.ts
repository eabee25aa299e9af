/**
 * A small JSON Schema validator for the keywords the payload schemas (../schema/*.schema.json) use:
 * type, enum, const, required, properties, additionalProperties, items, minItems, minimum,
 * minProperties and local $ref (#/$defs/...); title, description, $schema, $id and contentEncoding
 * are annotations. A schema using any other keyword is refused (`unsupportedKeywords`), so a
 * schema edit cannot be silently ignored. No dependencies: it runs in the browser (the renderer
 * checks every payload with it) and in Node (groundlab's tests check the producer's payloads).
 */
export type JsonSchema = { [key: string]: unknown };

const CHECKED = [
  'type',
  'enum',
  'const',
  'required',
  'properties',
  'additionalProperties',
  'items',
  'minItems',
  'minimum',
  'minProperties',
  '$ref',
  '$defs',
];
const ANNOTATIONS = ['title', 'description', '$schema', '$id', 'contentEncoding'];

/** Keywords of `schema` (and its subschemas) that this validator does not implement, as JSON pointers. */
export function unsupportedKeywords(schema: JsonSchema, at = '#'): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(schema)) {
    if (!CHECKED.includes(k) && !ANNOTATIONS.includes(k)) out.push(`${at}/${k}`);
    if (k === 'properties' || k === '$defs')
      for (const [n, s] of Object.entries(v as Record<string, JsonSchema>)) out.push(...unsupportedKeywords(s, `${at}/${k}/${n}`));
    if ((k === 'items' || k === 'additionalProperties') && v && typeof v === 'object')
      out.push(...unsupportedKeywords(v as JsonSchema, `${at}/${k}`));
  }
  return out;
}

function typeOf(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  if (typeof x === 'number') return Number.isInteger(x) ? 'integer' : 'number';
  return typeof x;
}

function typeMatches(x: unknown, t: string): boolean {
  const k = typeOf(x);
  return k === t || (t === 'number' && k === 'integer');
}

function show(x: unknown): string {
  const s = JSON.stringify(x);
  return s === undefined ? String(x) : s.length > 40 ? s.slice(0, 37) + '...' : s;
}

/**
 * The ways `value` breaks `schema`, each as "<JSON pointer into the value>: <what is wrong>";
 * empty when it validates. Stops after `limit` errors.
 */
export function validate(schema: JsonSchema, value: unknown, limit = 20): string[] {
  const errors: string[] = [];
  const root = schema;
  const resolve = (ref: string): JsonSchema => {
    const m = /^#\/\$defs\/([^/]+)$/.exec(ref);
    const d = m ? (root.$defs as Record<string, JsonSchema> | undefined)?.[m[1]] : undefined;
    if (!d) throw new Error(`schema: cannot resolve $ref ${ref}`);
    return d;
  };
  const walk = (s: JsonSchema, x: unknown, at: string): void => {
    if (errors.length >= limit) return;
    if (typeof s.$ref === 'string') return walk(resolve(s.$ref), x, at);
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      if (!types.some((t) => typeMatches(x, t))) {
        errors.push(`${at || '/'}: expected ${types.join(' or ')}, got ${typeOf(x)} ${show(x)}`);
        return;
      }
    }
    if ('const' in s && x !== s.const) errors.push(`${at || '/'}: must be ${show(s.const)}, got ${show(x)}`);
    if (Array.isArray(s.enum) && !s.enum.includes(x as never))
      errors.push(`${at || '/'}: must be one of ${s.enum.map(show).join(', ')}, got ${show(x)}`);
    if (typeof s.minimum === 'number' && typeof x === 'number' && x < s.minimum)
      errors.push(`${at || '/'}: must be >= ${s.minimum}, got ${x}`);
    if (Array.isArray(x)) {
      if (typeof s.minItems === 'number' && x.length < s.minItems)
        errors.push(`${at || '/'}: needs at least ${s.minItems} items, has ${x.length}`);
      if (s.items && typeof s.items === 'object') x.forEach((item, i) => walk(s.items as JsonSchema, item, `${at}/${i}`));
    } else if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, JsonSchema>;
      for (const r of (s.required ?? []) as string[]) if (!(r in o)) errors.push(`${at || '/'}: misses the required property "${r}"`);
      if (typeof s.minProperties === 'number' && Object.keys(o).length < s.minProperties)
        errors.push(`${at || '/'}: needs at least ${s.minProperties} properties`);
      for (const [k, v] of Object.entries(o)) {
        if (props[k]) walk(props[k], v, `${at}/${k}`);
        else if (s.additionalProperties === false)
          errors.push(
            `${at || '/'}: unknown property "${k}"${Object.keys(props).length ? ` (known: ${Object.keys(props).join(', ')})` : ''}`,
          );
        else if (s.additionalProperties && typeof s.additionalProperties === 'object')
          walk(s.additionalProperties as JsonSchema, v, `${at}/${k}`);
      }
    }
  };
  walk(schema, value, '');
  return errors.slice(0, limit);
}
