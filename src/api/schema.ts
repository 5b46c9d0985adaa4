/**
 * A small schema language: each kind's fields are described once, with type,
 * requiredness, allowed values and a one-line description. The same
 * description drives three things:
 *
 *  - strict decoding: unknown field names are rejected by name
 *    (`unknown field "spec.containers[0].imagePullPolicyy"`), wrong value
 *    types are reported, malformed quantities are caught;
 *  - a cleaned copy of the object with only well-typed fields, which the
 *    semantic validators then read without re-checking types;
 *  - `explain` (see explain.ts), like `kubectl explain`.
 */

import { FieldError, child, index, invalid, key, notSupported, required, unknownField } from './field-error.ts';
import { Quantity, QuantityError, tryParseQuantity } from './quantity.ts';

export type FieldType =
  | 'string'
  | 'int'
  | 'number'
  | 'bool'
  | 'quantity'
  | 'intOrString'
  | 'time'
  | 'map'
  | 'list'
  | 'object'
  | 'any';

export interface FieldSchema {
  readonly type: FieldType;
  readonly description: string;
  /** Missing, null, '' and [] are reported as `Required value`. */
  readonly required?: boolean;
  /** Allowed values of a string field ('' counts as unset). */
  readonly enum?: readonly string[];
  /** Fields of an object. */
  readonly fields?: Readonly<Record<string, FieldSchema>>;
  /** Element schema of a list. */
  readonly items?: FieldSchema;
  /** Value schema of a map (keys are strings). */
  readonly values?: FieldSchema;
  /** Type name shown by explain for objects, e.g. `Container`. */
  readonly typeName?: string;
}

interface Opts {
  required?: boolean;
  enum?: readonly string[];
}

// ---- builders ------------------------------------------------------------------

export const str = (description: string, opts: Opts = {}): FieldSchema => ({ type: 'string', description, ...opts });
export const int = (description: string, opts: Opts = {}): FieldSchema => ({ type: 'int', description, ...opts });
export const num = (description: string, opts: Opts = {}): FieldSchema => ({ type: 'number', description, ...opts });
export const bool = (description: string, opts: Opts = {}): FieldSchema => ({ type: 'bool', description, ...opts });
export const qty = (description: string, opts: Opts = {}): FieldSchema => ({ type: 'quantity', description, ...opts });
export const intOrStr = (description: string, opts: Opts = {}): FieldSchema => ({ type: 'intOrString', description, ...opts });
export const time = (description: string, opts: Opts = {}): FieldSchema => ({ type: 'time', description, ...opts });
export const anyValue = (description: string): FieldSchema => ({ type: 'any', description });

export const obj = (
  typeName: string,
  description: string,
  fields: Record<string, FieldSchema>,
  opts: Opts = {},
): FieldSchema => ({ type: 'object', typeName, description, fields, ...opts });

export const list = (items: FieldSchema, description: string, opts: Opts = {}): FieldSchema => ({
  type: 'list',
  items,
  description,
  ...opts,
});

export const map = (values: FieldSchema, description: string, opts: Opts = {}): FieldSchema => ({
  type: 'map',
  values,
  description,
  ...opts,
});

export const strMap = (description: string, opts: Opts = {}): FieldSchema =>
  map(str('A value.'), description, opts);

export const strList = (description: string, opts: Opts = {}): FieldSchema =>
  list(str('An element.'), description, opts);

/** The same schema with its own description (shared types used in several places). */
export const describe = (schema: FieldSchema, description: string, opts: Opts = {}): FieldSchema => ({
  ...schema,
  description,
  ...opts,
});

/** The same schema, marked required. */
export const req = (schema: FieldSchema): FieldSchema => ({ ...schema, required: true });

// ---- checking -------------------------------------------------------------------

export interface SchemaCheck {
  /** Unknown fields, type errors, missing required fields, unsupported enum values. */
  readonly errors: FieldError[];
  /** A copy holding only known, well-typed fields; nulls are dropped. */
  readonly value: unknown;
  /** Paths whose value was dropped for its type; errors below them are noise. */
  readonly dropped: ReadonlySet<string>;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array);

/** True for the values Kubernetes treats as "not set" for a required field. */
export const isEmptyValue = (v: unknown): boolean =>
  v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);

const TYPE_WORDS: Record<FieldType, string> = {
  string: 'string',
  int: 'integer',
  number: 'number',
  bool: 'boolean',
  quantity: 'quantity (string or number)',
  intOrString: 'integer or string',
  time: 'string (RFC 3339 timestamp)',
  map: 'object',
  list: 'array',
  object: 'object',
  any: 'any',
};

/** Checks `value` against `schema`, reporting errors under `path`. */
export function checkSchema(value: unknown, schema: FieldSchema, path = ''): SchemaCheck {
  const errors: FieldError[] = [];
  const dropped = new Set<string>();
  const clean = walk(value, schema, path, errors, dropped);
  return { errors, value: clean, dropped };
}

/** Reports a value of the wrong type at `path` and drops it. */
function typeError(value: unknown, schema: FieldSchema, path: string, errors: FieldError[], dropped: Set<string>): undefined {
  errors.push(invalid(path, value, `must be of type ${TYPE_WORDS[schema.type]}`));
  dropped.add(path);
  return undefined;
}

/** The required fields of each object schema, found once (schemas are built once and never change). */
const requiredFields = new WeakMap<FieldSchema, readonly string[]>();

function requiredOf(schema: FieldSchema): readonly string[] {
  let r = requiredFields.get(schema);
  if (r === undefined) {
    const fields = schema.fields ?? {};
    r = Object.keys(fields).filter((k) => fields[k]!.required);
    requiredFields.set(schema, r);
  }
  return r;
}

/** Returns the cleaned value, or undefined when the value is dropped. */
function walk(value: unknown, schema: FieldSchema, path: string, errors: FieldError[], dropped: Set<string>): unknown {
  if (value === undefined || value === null) return undefined;
  switch (schema.type) {
    case 'any':
      return value;
    case 'string':
      if (typeof value !== 'string') return typeError(value, schema, path, errors, dropped);
      if (schema.enum && value !== '' && !schema.enum.includes(value)) errors.push(notSupported(path, value, schema.enum));
      return value;
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) ? value : typeError(value, schema, path, errors, dropped);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? value : typeError(value, schema, path, errors, dropped);
    case 'bool':
      return typeof value === 'boolean' ? value : typeError(value, schema, path, errors, dropped);
    case 'intOrString':
      return (typeof value === 'number' && Number.isInteger(value)) || typeof value === 'string' ? value : typeError(value, schema, path, errors, dropped);
    case 'time':
      if (typeof value !== 'string') return typeError(value, schema, path, errors, dropped);
      if (Number.isNaN(Date.parse(value))) {
        errors.push(invalid(path, value, 'must be an RFC 3339 timestamp (e.g. 2006-01-02T15:04:05Z)'));
        dropped.add(path);
        return undefined;
      }
      return value;
    case 'quantity':
      if (typeof value !== 'string' && typeof value !== 'number') return typeError(value, schema, path, errors, dropped);
      // The same few texts come back for every pod: tryParseQuantity keeps their results.
      if (tryParseQuantity(value) !== undefined) return value;
      try {
        Quantity.parse(value);
      } catch (e) {
        errors.push(invalid(path, value, e instanceof QuantityError ? e.message : String(e)));
        dropped.add(path);
        return undefined;
      }
      return value;
    case 'list': {
      if (!Array.isArray(value)) return typeError(value, schema, path, errors, dropped);
      const items = schema.items!;
      const out: unknown[] = [];
      // A plain loop, not forEach: holes are skipped as forEach skips them.
      for (let i = 0; i < value.length; i++) {
        if (!(i in value)) continue;
        const item: unknown = value[i];
        const p = index(path, i);
        if (item === null || item === undefined) {
          errors.push(invalid(p, null, `must be of type ${TYPE_WORDS[items.type]}`));
          dropped.add(p);
          continue;
        }
        const c = walk(item, items, p, errors, dropped);
        // Keep positions stable so indexes in later messages match the input.
        out.push(c === undefined ? dropMarker(items) : c);
      }
      return out;
    }
    case 'map': {
      if (!isPlainObject(value)) return typeError(value, schema, path, errors, dropped);
      const out: Record<string, unknown> = {};
      const values = schema.values!;
      const ks = Object.keys(value);
      for (let i = 0; i < ks.length; i++) {
        const k = ks[i]!;
        const v = value[k];
        if (v === null || v === undefined) {
          if (values.type === 'string') out[k] = ''; // `key:` with no value is an empty string in a string map
          continue;
        }
        // Scalars of the right type need no path (it is built only for an error).
        if (values.type === 'string' && typeof v === 'string' && !values.enum) {
          out[k] = v;
          continue;
        }
        const c = walk(v, values, key(path, k), errors, dropped);
        if (c !== undefined) out[k] = c;
      }
      return out;
    }
    case 'object': {
      if (!isPlainObject(value)) return typeError(value, schema, path, errors, dropped);
      const out: Record<string, unknown> = {};
      const fields = schema.fields ?? {};
      const ks = Object.keys(value);
      for (let i = 0; i < ks.length; i++) {
        const k = ks[i]!;
        const fs = fields[k];
        if (!fs) {
          errors.push(unknownField(child(path, k)));
          continue;
        }
        const v = value[k];
        if (v === undefined || v === null) continue;
        // Scalars of the right type need no path (it is built only for an error).
        if (fs.type === 'string' && typeof v === 'string' && !fs.enum) {
          out[k] = v;
          continue;
        }
        const c = walk(v, fs, child(path, k), errors, dropped);
        if (c !== undefined) out[k] = c;
      }
      const req = requiredOf(schema);
      for (let i = 0; i < req.length; i++) {
        const k = req[i]!;
        if (!isEmptyValue(value[k])) continue;
        const p = child(path, k);
        if (!dropped.has(p)) errors.push(required(p));
      }
      return out;
    }
  }
}

/**
 * A placeholder for a list element dropped for its type, so later elements
 * keep their indexes: an empty object or an empty string of the right kind.
 */
function dropMarker(schema: FieldSchema): unknown {
  switch (schema.type) {
    case 'object':
    case 'map':
      return {};
    case 'list':
      return [];
    case 'int':
    case 'number':
      return 0;
    case 'bool':
      return false;
    default:
      return '';
  }
}

/** The schema of the field at a dotted path (list and map levels are stepped through). */
export function schemaAt(root: FieldSchema, path: readonly string[]): FieldSchema | undefined {
  let cur: FieldSchema | undefined = root;
  for (const step of path) {
    while (cur && (cur.type === 'list' || cur.type === 'map')) cur = cur.type === 'list' ? cur.items : cur.values;
    if (!cur || cur.type !== 'object') return undefined;
    cur = cur.fields?.[step];
  }
  return cur;
}

/** `<[]Container>`-style type label used by explain. */
export function typeLabel(schema: FieldSchema): string {
  switch (schema.type) {
    case 'list':
      return `[]${typeLabel(schema.items!)}`;
    case 'map':
      return `map[string]${typeLabel(schema.values!)}`;
    case 'object':
      return schema.typeName ?? 'Object';
    case 'int':
      return 'integer';
    case 'number':
      return 'number';
    case 'bool':
      return 'boolean';
    case 'quantity':
      return 'Quantity';
    case 'intOrString':
      return 'IntOrString';
    case 'time':
      return 'string';
    case 'any':
      return 'Object';
    case 'string':
      return 'string';
  }
}
