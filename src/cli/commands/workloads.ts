/**
 * What several verbs need to know about objects and their relations, read through the
 * API as kubectl reads it: every object of a list (page by page), the ReplicaSets a
 * Deployment controls and which of them is its current one, revisions, and the Events
 * about an object.
 */
import { status } from '@grpc/grpc-js';
import { formatLabelSelector, type KindInfo, type LabelSelector } from '../../api/index.ts';
import { ApiCallError, type BerthClient, type PlainObject } from '../../client/client.ts';

type Obj = Record<string, unknown>;

export function rec(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

export function metaOf(o: PlainObject): Obj {
  return rec(o.metadata);
}

export function nameOf(o: PlainObject): string {
  return String(metaOf(o).name ?? '');
}

export function namespaceOf(o: PlainObject): string {
  return String(metaOf(o).namespace ?? '');
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiCallError && e.code === status.NOT_FOUND;
}

export function isConflict(e: unknown): boolean {
  return e instanceof ApiCallError && e.code === status.ABORTED;
}

/** Every object of a list query, fetched in pages of 500. */
export async function listAll(
  client: BerthClient,
  kind: string,
  q: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {},
): Promise<PlainObject[]> {
  const out: PlainObject[] = [];
  let cont = '';
  do {
    const page = await client.list(kind, { ...q, limit: 500, continue: cont });
    out.push(...page.items);
    cont = page.continue;
  } while (cont);
  return out;
}

/** The controller owner reference of an object, if any. */
export function controllerOf(o: PlainObject): Obj | undefined {
  const refs = metaOf(o).ownerReferences;
  if (!Array.isArray(refs)) return undefined;
  return (refs as unknown[]).map(rec).find((r) => r.controller === true);
}

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const POD_TEMPLATE_HASH = 'pod-template-hash';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';

/** A ReplicaSet's revision (0 without the annotation). */
export function revisionOf(o: PlainObject): number {
  const v = rec(metaOf(o).annotations)[REVISION_ANNOTATION];
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : 0;
  return n;
}

/** Deep equality where an absent field, null, `{}` and `[]` are the same (Kubernetes' semantic equality). */
export function semanticEqual(a: unknown, b: unknown): boolean {
  const empty = (v: unknown) =>
    v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);
  if (empty(a) && empty(b)) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => semanticEqual(x, b[i]));
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!semanticEqual((a as Obj)[k], (b as Obj)[k])) return false;
    return true;
  }
  return a === b;
}

/** A pod template without the pod-template-hash label. */
export function withoutHash(template: unknown): Obj {
  const t = structuredClone(rec(template));
  const m = rec(t.metadata);
  const labels = { ...rec(m.labels) };
  delete labels[POD_TEMPLATE_HASH];
  if (t.metadata !== undefined) t.metadata = { ...m, labels };
  return t;
}

/** Are two pod templates the same but for the pod-template-hash label? */
export function equalIgnoreHash(a: unknown, b: unknown): boolean {
  return semanticEqual(withoutHash(a), withoutHash(b));
}

export interface DeploymentSets {
  /** Every ReplicaSet the Deployment controls, oldest first. */
  all: PlainObject[];
  /** The one with the Deployment's current template (the oldest such), if any. */
  newSet: PlainObject | undefined;
  /** All the others. */
  old: PlainObject[];
}

/** The ReplicaSets a Deployment controls (listed by its selector, kept by controller reference). */
export async function replicaSetsOf(client: BerthClient, deployment: PlainObject): Promise<DeploymentSets> {
  const spec = rec(deployment.spec);
  const uid = metaOf(deployment).uid;
  const selector = spec.selector === undefined ? '' : formatLabelSelector(spec.selector as LabelSelector);
  const all = (await listAll(client, 'replicasets', { namespace: namespaceOf(deployment), labelSelector: selector === '<none>' ? '' : selector })).filter(
    (rs) => controllerOf(rs)?.uid === uid,
  );
  all.sort((a, b) => {
    const ta = String(metaOf(a).creationTimestamp ?? '');
    const tb = String(metaOf(b).creationTimestamp ?? '');
    return ta === tb ? (nameOf(a) < nameOf(b) ? -1 : 1) : ta < tb ? -1 : 1;
  });
  const newSet = all.find((rs) => equalIgnoreHash(rec(rs.spec).template, spec.template));
  return { all, newSet, old: all.filter((rs) => rs !== newSet) };
}

/**
 * The Events about an object (kubectl's search: by name, namespace, kind and uid; pods
 * without the kind; nodes by name whatever the uid, as agents and controllers differ).
 */
export async function eventsFor(client: BerthClient, info: KindInfo, obj: PlainObject): Promise<PlainObject[]> {
  const m = metaOf(obj);
  const ns = info.namespaced ? String(m.namespace ?? '') : '';
  const parts = [`involvedObject.name=${String(m.name ?? '')}`];
  if (ns) parts.push(`involvedObject.namespace=${ns}`);
  if (info.kind !== 'Pod') parts.push(`involvedObject.kind=${info.kind}`);
  if (info.kind !== 'Node' && m.uid) parts.push(`involvedObject.uid=${String(m.uid)}`);
  try {
    return await listAll(client, 'events', { namespace: ns, fieldSelector: parts.join(',') });
  } catch {
    // Events are extra information: describe the object without them.
    return [];
  }
}
