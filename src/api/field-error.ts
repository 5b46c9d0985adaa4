/**
 * Field-level validation errors, shaped and worded like Kubernetes'
 * `k8s.io/apimachinery/pkg/util/validation/field` errors, so that a user who
 * knows `kubectl` reads berth's messages without translation:
 *
 *   spec.template.spec.containers[0].image: Required value
 *   metadata.name: Invalid value: "Web_1": a lowercase RFC 1123 subdomain must ...
 *
 * Two error types are not Kubernetes field errors but decoding errors there:
 * an unknown field (`unknown field "spec.foo"`) and an unregistered kind
 * (`no kind "Foo" is registered for version "v1"`). They live in the same list
 * so a caller gets every problem of an object at once.
 */

export type FieldErrorType =
  | 'Required value'
  | 'Invalid value'
  | 'Unsupported value'
  | 'Duplicate value'
  | 'Not found'
  | 'Forbidden'
  | 'Too long'
  | 'Too many'
  | 'Internal error'
  /** The field name is not part of the kind's schema (strict decoding). */
  | 'Unknown field'
  /** The kind, or the kind at this apiVersion, is not served by berth. */
  | 'Not supported';

/** Marker for "no value to show" (Kubernetes' omitValue). */
const OMIT: unique symbol = Symbol('omit');

export class FieldError {
  /** Dotted path with indexes and map keys: `spec.containers[0].resources.limits[cpu]`. */
  readonly field: string;
  readonly type: FieldErrorType;
  /** The offending value; undefined when the message does not show one. */
  readonly value: unknown;
  readonly detail: string;

  constructor(field: string, type: FieldErrorType, value?: unknown, detail = '') {
    this.field = field;
    this.type = type;
    this.value = value;
    this.detail = detail;
  }

  /** `field: Type[: value][: detail]` exactly as Kubernetes' `(*field.Error).Error()`. */
  toString(): string {
    if (this.type === 'Unknown field') return `unknown field ${JSON.stringify(this.field)}`;
    if (this.type === 'Not supported') return this.detail;
    return `${this.field}: ${this.body()}`;
  }

  /** The message without the field path (Kubernetes' ErrorBody). */
  body(): string {
    let s: string = this.type;
    const showsValue =
      this.type !== 'Required value' &&
      this.type !== 'Forbidden' &&
      this.type !== 'Too long' &&
      this.type !== 'Internal error' &&
      this.value !== undefined &&
      this.value !== OMIT;
    if (showsValue) s += `: ${formatValue(this.value)}`;
    if (this.detail) s += `: ${this.detail}`;
    return s;
  }
}

/** Go prints strings quoted, numbers and booleans bare, everything else as JSON. */
export function formatValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Renders a list of errors the way the API server does in a 422 message. */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  if (errors.length === 1) return errors[0]!.toString();
  return `[${errors.map((e) => e.toString()).join(', ')}]`;
}

// ---- constructors, named after apimachinery's -----------------------------

export const required = (field: string, detail = ''): FieldError =>
  new FieldError(field, 'Required value', undefined, detail);

export const invalid = (field: string, value: unknown, detail = ''): FieldError =>
  new FieldError(field, 'Invalid value', value, detail);

/** An invalid value whose value is not shown (Kubernetes' OmitValueType). */
export const invalidOmit = (field: string, detail: string): FieldError =>
  new FieldError(field, 'Invalid value', OMIT, detail);

export const notSupported = (field: string, value: unknown, valid: readonly string[]): FieldError =>
  new FieldError(
    field,
    'Unsupported value',
    value,
    valid.length ? `supported values: ${valid.map((v) => JSON.stringify(v)).join(', ')}` : '',
  );

export const duplicate = (field: string, value: unknown): FieldError =>
  new FieldError(field, 'Duplicate value', value);

export const notFound = (field: string, value: unknown): FieldError =>
  new FieldError(field, 'Not found', value);

export const forbidden = (field: string, detail: string): FieldError =>
  new FieldError(field, 'Forbidden', undefined, detail);

export const tooLong = (field: string, max: number): FieldError =>
  new FieldError(field, 'Too long', undefined, `may not be more than ${max} ${max === 1 ? 'byte' : 'bytes'}`);

export const tooMany = (field: string, actual: number, max: number): FieldError =>
  new FieldError(field, 'Too many', actual, `must have at most ${max} ${max === 1 ? 'item' : 'items'}`);

export const unknownField = (field: string): FieldError => new FieldError(field, 'Unknown field');

// ---- paths -----------------------------------------------------------------

/** `parent.name` (or `name` at the root). */
export const child = (parent: string, name: string): string => (parent ? `${parent}.${name}` : name);

/** `parent[i]`. */
export const index = (parent: string, i: number): string => `${parent}[${i}]`;

/** `parent[key]`, Kubernetes' notation for a map entry. */
export const key = (parent: string, k: string): string => `${parent}[${k}]`;
