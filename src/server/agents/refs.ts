/**
 * What a pod needs besides itself: the ConfigMaps and Secrets it references (volumes,
 * projected sources, env valueFrom, envFrom). Agents get exactly these objects with the
 * pod, and only these, so a Secret reaches only the nodes whose pods use it.
 *
 * imagePullSecrets are left out on purpose: pulling is the runtime's business and the
 * agent API does not carry registry credentials.
 */
import type { StoredObject } from '../../store/index.ts';

export type RefKind = 'ConfigMap' | 'Secret';

/** `kind/namespace/name` of a pod (or a referenced object); names never contain '/'. */
export function objectKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

export function keyOf(o: StoredObject): string {
  return objectKey(o.kind, o.metadata.namespace ?? '', o.metadata.name);
}

export function splitKey(key: string): { kind: string; namespace: string; name: string } {
  const a = key.indexOf('/');
  const b = key.indexOf('/', a + 1);
  return { kind: key.slice(0, a), namespace: key.slice(a + 1, b), name: key.slice(b + 1) };
}

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const nameOf = (v: unknown, field = 'name'): string | undefined => {
  if (!isObj(v)) return undefined;
  const n = v[field];
  return typeof n === 'string' && n !== '' ? n : undefined;
};

/** Keys of the ConfigMaps and Secrets `pod` references, without duplicates. */
export function podRefs(pod: StoredObject): string[] {
  const ns = pod.metadata.namespace ?? '';
  const out = new Set<string>();
  const add = (kind: RefKind, name: string | undefined) => {
    if (name) out.add(objectKey(kind, ns, name));
  };
  const spec = isObj(pod.spec) ? pod.spec : {};
  for (const v of arr(spec.volumes)) {
    if (!isObj(v)) continue;
    add('ConfigMap', nameOf(v.configMap));
    add('Secret', nameOf(v.secret, 'secretName'));
    if (isObj(v.projected)) {
      for (const s of arr(v.projected.sources)) {
        if (!isObj(s)) continue;
        add('ConfigMap', nameOf(s.configMap));
        add('Secret', nameOf(s.secret));
      }
    }
  }
  for (const list of [spec.containers, spec.initContainers, spec.ephemeralContainers]) {
    for (const c of arr(list)) {
      if (!isObj(c)) continue;
      for (const e of arr(c.env)) {
        if (!isObj(e) || !isObj(e.valueFrom)) continue;
        add('ConfigMap', nameOf(e.valueFrom.configMapKeyRef));
        add('Secret', nameOf(e.valueFrom.secretKeyRef));
      }
      for (const e of arr(c.envFrom)) {
        if (!isObj(e)) continue;
        add('ConfigMap', nameOf(e.configMapRef));
        add('Secret', nameOf(e.secretRef));
      }
    }
  }
  return [...out];
}

/** The node a pod is bound to, or undefined. */
export function nodeOf(pod: StoredObject | undefined): string | undefined {
  const n = pod?.spec?.nodeName;
  return typeof n === 'string' && n !== '' ? n : undefined;
}

/** Structural equality of JSON-like values (undefined members count as absent). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const aa = Array.isArray(a);
  if (aa !== Array.isArray(b)) return false;
  if (aa) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!sameValue(x[i], y[i])) return false;
    return true;
  }
  const x = a as Json;
  const y = b as Json;
  let nx = 0;
  for (const k in x) {
    if (x[k] === undefined) continue;
    nx++;
    if (!sameValue(x[k], y[k])) return false;
  }
  let ny = 0;
  for (const k in y) if (y[k] !== undefined) ny++;
  return nx === ny;
}

const TERMINAL = (phase: unknown) => phase === 'Succeeded' || phase === 'Failed';

/**
 * Whether `next` differs from `prev` (the same pod) in its status only: same spec, same
 * metadata but for resourceVersion. The store's status write keeps the spec and the
 * metadata's members as they were, so this is mostly identity checks.
 */
export function statusOnlyChange(prev: StoredObject, next: StoredObject): boolean {
  if (prev.spec !== next.spec && !sameValue(prev.spec, next.spec)) return false;
  const a = prev.metadata as unknown as Json;
  const b = next.metadata as unknown as Json;
  let na = 0;
  for (const k in a) {
    if (k === 'resourceVersion' || a[k] === undefined) continue;
    na++;
    if (a[k] !== b[k] && !sameValue(a[k], b[k])) return false;
  }
  let nb = 0;
  for (const k in b) if (k !== 'resourceVersion' && b[k] !== undefined) nb++;
  if (na !== nb) return false;
  const x = prev as unknown as Json;
  const y = next as unknown as Json;
  for (const o of [x, y]) {
    for (const k in o) {
      if (k === 'metadata' || k === 'spec' || k === 'status') continue;
      if (x[k] !== y[k] && !sameValue(x[k], y[k])) return false;
    }
  }
  return true;
}

/**
 * A status-only change the node's agent does not need: everything but a pod becoming
 * Succeeded or Failed (written by someone else, that stops its containers). The agent's
 * own reports come back as such changes; it knows what it reported.
 */
export function silentStatusChange(prev: StoredObject, next: StoredObject): boolean {
  if (!statusOnlyChange(prev, next)) return false;
  return !(TERMINAL(next.status?.phase) && !TERMINAL(prev.status?.phase));
}
