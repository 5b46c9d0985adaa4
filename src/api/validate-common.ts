/**
 * Validation helpers shared by the per-kind validators: labels, annotations,
 * selectors, numbers, names and immutability, each producing Kubernetes'
 * field errors.
 */

import {
  FieldError,
  child,
  forbidden,
  index,
  invalid,
  required,
  tooLong,
} from './field-error.ts';
import {
  isConfigMapKey,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
} from './names.ts';
import type { LabelSelector } from './types.ts';

export type Errors = FieldError[];

/** Each key a qualified name and each value a label value; errors carry the offending key or value. */
export function validateLabels(labels: Record<string, string> | undefined, path: string): Errors {
  const errs: Errors = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    for (const msg of isQualifiedName(k)) errs.push(invalid(path, k, msg));
    for (const msg of isValidLabelValue(v)) errs.push(invalid(path, v, msg));
  }
  return errs;
}

/** Total size of annotation keys and values allowed on one object. */
export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

export function validateAnnotations(annotations: Record<string, string> | undefined, path: string): Errors {
  const errs: Errors = [];
  let size = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    for (const msg of isQualifiedName(k.toLowerCase())) errs.push(invalid(path, k, msg));
    size += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (size > TOTAL_ANNOTATION_SIZE_LIMIT) errs.push(tooLong(path, TOTAL_ANNOTATION_SIZE_LIMIT));
  return errs;
}

export function validateLabelName(name: string, path: string): Errors {
  return isQualifiedName(name).map((msg) => invalid(path, name, msg));
}

/** metav1 ValidateLabelSelector: matchLabels as labels, each expression's operator and values. */
export function validateLabelSelector(sel: LabelSelector | undefined, path: string): Errors {
  if (!sel) return [];
  const errs = validateLabels(sel.matchLabels, child(path, 'matchLabels'));
  (sel.matchExpressions ?? []).forEach((expr, i) => {
    const p = index(child(path, 'matchExpressions'), i);
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) errs.push(required(child(p, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) {
          errs.push(forbidden(child(p, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        }
        break;
      default:
        break; // reported by the schema as an unsupported value
    }
    if (expr.key !== undefined && expr.key !== '') errs.push(...validateLabelName(expr.key, child(p, 'key')));
    values.forEach((v, j) => {
      for (const msg of isValidLabelValue(v)) errs.push(invalid(index(child(p, 'values'), j), v, msg));
    });
  });
  return errs;
}

export function validateNonNegative(value: number | undefined, path: string): Errors {
  return value !== undefined && value < 0 ? [invalid(path, value, 'must be greater than or equal to 0')] : [];
}

export function validatePositive(value: number | undefined, path: string): Errors {
  return value !== undefined && value <= 0 ? [invalid(path, value, 'must be greater than zero')] : [];
}

/** At least `min`, with Kubernetes' "must be greater than or equal to N" wording. */
export function validateAtLeast(value: number | undefined, min: number, path: string): Errors {
  return value !== undefined && value < min ? [invalid(path, value, `must be greater than or equal to ${min}`)] : [];
}

export function validateDNSLabel(value: string, path: string): Errors {
  return isDNS1123Label(value).map((msg) => invalid(path, value, msg));
}

export function validateDNSSubdomain(value: string, path: string): Errors {
  return isDNS1123Subdomain(value).map((msg) => invalid(path, value, msg));
}

export function validateQualifiedName(value: string, path: string): Errors {
  return isQualifiedName(value).map((msg) => invalid(path, value, msg));
}

/** A port number 1-65535 or an IANA port name. */
export function validatePortNumOrName(port: number | string | undefined, path: string): Errors {
  if (port === undefined) return [];
  if (typeof port === 'number') return isValidPortNum(port).map((msg) => invalid(path, port, msg));
  return isValidPortName(port).map((msg) => invalid(path, port, msg));
}


/** Required after defaulting; the schema reports values outside the list. */
export function validateProtocol(protocol: string | undefined, path: string): Errors {
  return protocol === undefined || protocol === '' ? [required(path)] : [];
}

/** ConfigMap and Secret keys. */
export function validateDataKeys(data: Record<string, unknown> | undefined, path: string): Errors {
  const errs: Errors = [];
  for (const k of Object.keys(data ?? {})) {
    for (const msg of isConfigMapKey(k)) errs.push(invalid(`${path}[${k}]`, k, msg));
  }
  return errs;
}

/** Unset in the Go sense: an absent field and its zero value are the same object. */
const isZeroish = (v: unknown): boolean =>
  v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);

/**
 * Semantic equality of JSON-like values, as Kubernetes compares objects:
 * key order is ignored, and an absent field equals null, '' or an empty list.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (isZeroish(a) && isZeroish(b)) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) if (!deepEqual(ao[k], bo[k])) return false;
  return true;
}

/** `field is immutable` when the value changed. */
export function validateImmutable(next: unknown, prev: unknown, path: string): Errors {
  return deepEqual(next, prev) ? [] : [invalid(path, next ?? null, 'field is immutable')];
}

/** An enum that must be set (after defaulting); values outside the list are the schema's to report. */
export function validateRequiredEnum(value: string | undefined, path: string): Errors {
  return value === undefined || value === '' ? [required(path)] : [];
}
