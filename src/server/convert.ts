/**
 * Objects between their stored shape (plain Kubernetes-style JSON) and the wire shape of
 * proto/berth/v1/api.proto: typed metadata, spec/status/other fields as JSON text.
 */

/** A Kubernetes-shaped object as plain data. */
export interface PlainObject {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, unknown>;
  spec?: unknown;
  status?: unknown;
  [field: string]: unknown;
}

export interface WireOwnerReference {
  api_version: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  block_owner_deletion: boolean;
}

export interface WireMeta {
  name: string;
  generate_name: string;
  namespace: string;
  uid: string;
  resource_version: string;
  generation: string | number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  owner_references: WireOwnerReference[];
  finalizers: string[];
  creation_timestamp: string;
  deletion_timestamp: string;
  deletion_grace_period_seconds: string | number;
}

export interface WireObject {
  api_version: string;
  kind: string;
  metadata: WireMeta | null;
  spec_json: string;
  status_json: string;
  fields_json: string;
}

export class WireFormatError extends Error {
  override name = 'WireFormatError';
}

const TOP = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);

/** Stored object → wire message. */
export function toWire(obj: PlainObject): WireObject {
  const m = (obj.metadata ?? {}) as Record<string, unknown>;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!TOP.has(k) && v !== undefined) fields[k] = v;
  const owners = (m.ownerReferences as Record<string, unknown>[] | undefined) ?? [];
  return {
    api_version: str(obj.apiVersion),
    kind: str(obj.kind),
    metadata: {
      name: str(m.name),
      generate_name: str(m.generateName),
      namespace: str(m.namespace),
      uid: str(m.uid),
      resource_version: str(m.resourceVersion),
      generation: Number(m.generation ?? 0),
      labels: (m.labels as Record<string, string>) ?? {},
      annotations: (m.annotations as Record<string, string>) ?? {},
      owner_references: owners.map((o) => ({
        api_version: str(o.apiVersion),
        kind: str(o.kind),
        name: str(o.name),
        uid: str(o.uid),
        controller: Boolean(o.controller),
        block_owner_deletion: Boolean(o.blockOwnerDeletion),
      })),
      finalizers: (m.finalizers as string[]) ?? [],
      creation_timestamp: str(m.creationTimestamp),
      deletion_timestamp: str(m.deletionTimestamp),
      deletion_grace_period_seconds: m.deletionGracePeriodSeconds === undefined ? -1 : Number(m.deletionGracePeriodSeconds),
    },
    spec_json: obj.spec === undefined ? '' : JSON.stringify(obj.spec),
    status_json: obj.status === undefined ? '' : JSON.stringify(obj.status),
    fields_json: Object.keys(fields).length === 0 ? '' : JSON.stringify(fields),
  };
}

/** Wire message → plain object, naming the field whose JSON is malformed. */
export function fromWire(w: Partial<WireObject> | null | undefined, where = 'object'): PlainObject {
  if (!w) throw new WireFormatError(`${where}: required`);
  const out: PlainObject = {};
  if (w.api_version) out.apiVersion = w.api_version;
  if (w.kind) out.kind = w.kind;
  const m = w.metadata;
  if (m) {
    const meta: Record<string, unknown> = {};
    if (m.name) meta.name = m.name;
    if (m.generate_name) meta.generateName = m.generate_name;
    if (m.namespace) meta.namespace = m.namespace;
    if (m.uid) meta.uid = m.uid;
    if (m.resource_version) meta.resourceVersion = m.resource_version;
    if (m.generation && Number(m.generation) !== 0) meta.generation = Number(m.generation);
    if (m.labels && Object.keys(m.labels).length > 0) meta.labels = { ...m.labels };
    if (m.annotations && Object.keys(m.annotations).length > 0) meta.annotations = { ...m.annotations };
    if (m.owner_references && m.owner_references.length > 0) {
      meta.ownerReferences = m.owner_references.map((o) => ({
        apiVersion: o.api_version,
        kind: o.kind,
        name: o.name,
        uid: o.uid,
        ...(o.controller ? { controller: true } : {}),
        ...(o.block_owner_deletion ? { blockOwnerDeletion: true } : {}),
      }));
    }
    if (m.finalizers && m.finalizers.length > 0) meta.finalizers = [...m.finalizers];
    if (m.creation_timestamp) meta.creationTimestamp = m.creation_timestamp;
    if (m.deletion_timestamp) meta.deletionTimestamp = m.deletion_timestamp;
    if (m.deletion_timestamp && Number(m.deletion_grace_period_seconds) >= 0) {
      meta.deletionGracePeriodSeconds = Number(m.deletion_grace_period_seconds);
    }
    out.metadata = meta;
  } else {
    out.metadata = {};
  }
  if (w.spec_json) out.spec = parseJson(w.spec_json, `${where}.spec_json`);
  if (w.status_json) out.status = parseJson(w.status_json, `${where}.status_json`);
  if (w.fields_json) {
    const f = parseJson(w.fields_json, `${where}.fields_json`);
    if (typeof f !== 'object' || f === null || Array.isArray(f)) throw new WireFormatError(`${where}.fields_json: expected a JSON object`);
    for (const [k, v] of Object.entries(f)) {
      if (TOP.has(k)) throw new WireFormatError(`${where}.fields_json: field "${k}" belongs in its own message field`);
      out[k] = v;
    }
  }
  return out;
}

function parseJson(s: string, where: string): unknown {
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new WireFormatError(`${where}: invalid JSON: ${(e as Error).message}`);
  }
}

function str(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}
