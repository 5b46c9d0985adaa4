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
