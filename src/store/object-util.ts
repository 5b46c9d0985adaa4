/**
 * Small pure helpers over plain JSON-shaped values: freezing, comparing, keys, time.
 */
import type { StoredObject } from './types.ts';

/** out[k] = v, where a "__proto__" key (the decoder keeps one as an own property) stays data. */
export function putData(out: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  else out[k] = v;
}

/**
 * A copy of `o` without `drop`'s keys, in one keyed pass. Not a spread followed by `delete`:
 * deleting keys turns an object into a slow dictionary, and every later copy, comparison
 * and encoding of it pays for that.
 */
export function withoutKeys(o: Record<string, unknown>, drop: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) if (!drop.has(k)) putData(out, k, o[k]);
  return out;
}

/**
 * Freeze a value and everything reachable from it. A frozen object is taken to be deeply
 * frozen already (everything the store freezes goes through here), so shared subtrees,
 * such as a status kept across an update, are not walked twice.
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) {
    for (const v of value) deepFreeze(v);
  } else if (!ArrayBuffer.isView(value)) {
    for (const k in value) deepFreeze((value as Record<string, unknown>)[k]);
  } else {
    // Typed arrays cannot be frozen while they have elements; they never occur in API
    // objects, which are JSON, so leave them as they are.
    return value;
  }
  return Object.freeze(value);
}

/**
 * Structural equality of JSON-shaped values. Key order does not matter and a key whose
 * value is undefined counts as absent (msgpack and JSON both drop or keep them freely).
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    return typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b);
  }
  const aa = Array.isArray(a);
  if (aa !== Array.isArray(b)) return false;
  if (aa) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!deepEqual(x[i], y[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let nx = 0;
  for (const k in x) {
    if (x[k] === undefined) continue;
    nx++;
    if (!deepEqual(x[k], y[k])) return false;
  }
  let ny = 0;
  for (const k in y) if (y[k] !== undefined) ny++;
  return nx === ny;
}

/** Separator inside in-memory keys: below every printable character, so keys sort by namespace, then name. */
export const SEP = '\u0000';

/** Key of an object inside its kind: namespace ('' if cluster-scoped) SEP name. */
export function nsKey(namespace: string, name: string): string {
  return namespace + SEP + name;
}

/** Key of an object across kinds: kind SEP namespace SEP name. */
export function fullKey(kind: string, namespace: string, name: string): string {
  return kind + SEP + namespace + SEP + name;
}

/** The namespace an object is indexed under ('' for cluster-scoped objects). */
export function namespaceOf(o: StoredObject): string {
  const ns = o.metadata.namespace;
  return typeof ns === 'string' ? ns : '';
}

/**
 * `iso` plus `seconds`, in RFC 3339 with whole seconds, as Kubernetes writes timestamps.
 * Returns undefined if `iso` is not a timestamp. A pure function of its inputs: every
 * replica computes the same string.
 */
export function addSeconds(iso: string, seconds: number): string | undefined {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return undefined;
  const t = new Date(Math.floor(ms / 1000) * 1000 + seconds * 1000);
  if (!Number.isFinite(t.getTime())) return undefined;
  return t.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A copy of a stored object with another resourceVersion, frozen. */
export function withResourceVersion(o: StoredObject, rv: number): StoredObject {
  return deepFreeze({ ...o, metadata: { ...o.metadata, resourceVersion: String(rv) } });
}
