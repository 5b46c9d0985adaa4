/**
 * Objects between their stored shape (plain Kubernetes-style JSON) and the wire shape of
 * proto/berth/v1/api.proto: typed metadata, spec/status/other fields as JSON text.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

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

const partJson = new WeakMap<object, string>();

/**
 * JSON of a spec or status. A stored object is frozen and a new version of it keeps the
 * parts that did not change (a pod's spec through every status write), so the JSON of a
 * frozen part is made once and reused by every watch event and list that carries it.
 */
function jsonOfPart(v: unknown): string {
  if (typeof v !== 'object' || v === null || !Object.isFrozen(v)) return JSON.stringify(v);
  let s = partJson.get(v);
  if (s === undefined) {
    s = JSON.stringify(v);
    partJson.set(v, s);
  }
  return s;
}

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
    spec_json: obj.spec === undefined ? '' : jsonOfPart(obj.spec),
    status_json: obj.status === undefined ? '' : jsonOfPart(obj.status),
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

// ---------------------------------------------------------------------------------------
// Watch events, encoded by hand around each object's message bytes. A change watched by
// many clients is converted and encoded once: the store delivers one change to all its
// watchers in one synchronous step, so the bytes are cached per object for the rest of
// that turn only (never kept beside the stored objects), and each watcher's message is
// just a small frame around them.

let objectType: protobuf.Type | undefined;

function objectMessageType(): protobuf.Type {
  objectType ??= new protobuf.Root().loadSync(fileURLToPath(new URL('../../proto/berth/v1/api.proto', import.meta.url)), { keepCase: true }).lookupType('berth.v1.Object');
  return objectType;
}

/** Objects encoded during the current turn (dropped at its end). */
let turnCache: Map<object, Uint8Array> | undefined;

/** `obj` as berth.v1.Object message bytes (as protobufjs, hence grpc-js, writes them). */
export function encodeObjectMessage(obj: PlainObject): Uint8Array {
  let b = turnCache?.get(obj);
  if (b === undefined) {
    const T = objectMessageType();
    b = T.encode(T.fromObject(toWire(obj))).finish();
    if (turnCache === undefined) {
      turnCache = new Map();
      queueMicrotask(() => (turnCache = undefined));
    }
    turnCache.set(obj, b);
  }
  return b;
}

/** A berth.v1.ListResponse message: items (1), resource_version (2), continue (3). */
export function encodeListResponse(items: readonly PlainObject[], resourceVersion: string, cont: string): Buffer {
  const T = objectMessageType();
  const parts: Uint8Array[] = new Array(items.length);
  let size = 0;
  for (let i = 0; i < items.length; i++) {
    const b = T.encode(T.fromObject(toWire(items[i]!))).finish();
    parts[i] = b;
    size += 1 + varintLength(b.length) + b.length;
  }
  const rlen = Buffer.byteLength(resourceVersion);
  const clen = Buffer.byteLength(cont);
  if (rlen > 0) size += 1 + varintLength(rlen) + rlen;
  if (clen > 0) size += 1 + varintLength(clen) + clen;
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const b of parts) {
    buf[pos++] = 0x0a;
    pos = writeVarint(buf, pos, b.length);
    buf.set(b, pos);
    pos += b.length;
  }
  if (rlen > 0) {
    buf[pos++] = 0x12;
    pos = writeVarint(buf, pos, rlen);
    pos += buf.write(resourceVersion, pos, 'utf8');
  }
  if (clen > 0) {
    buf[pos++] = 0x1a;
    pos = writeVarint(buf, pos, clen);
    pos += buf.write(cont, pos, 'utf8');
  }
  return buf;
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/**
 * One berth.v1.WatchEvent message: type (1), object (2, omitted when absent) and
 * resource_version (3), as protobufjs would write them.
 */
export function encodeWatchEvent(type: string, object: Uint8Array | undefined, resourceVersion: string): Buffer {
  const tlen = Buffer.byteLength(type);
  const rlen = Buffer.byteLength(resourceVersion);
  const olen = object ? object.length : 0;
  const size = 1 + varintLength(tlen) + tlen + (object ? 1 + varintLength(olen) + olen : 0) + 1 + varintLength(rlen) + rlen;
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  buf[pos++] = 0x0a;
  pos = writeVarint(buf, pos, tlen);
  pos += buf.write(type, pos, 'utf8');
  if (object) {
    buf[pos++] = 0x12;
    pos = writeVarint(buf, pos, olen);
    buf.set(object, pos);
    pos += olen;
  }
  buf[pos++] = 0x1a;
  pos = writeVarint(buf, pos, rlen);
  pos += buf.write(resourceVersion, pos, 'utf8');
  return buf;
}

/** A berth.v1.WatchEvent message carrying `events` (each an encoded WatchEvent) in field 4. */
export function encodeWatchBatch(events: readonly Uint8Array[]): Buffer {
  let size = 0;
  for (const e of events) size += 1 + varintLength(e.length) + e.length;
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const e of events) {
    buf[pos++] = 0x22;
    pos = writeVarint(buf, pos, e.length);
    buf.set(e, pos);
    pos += e.length;
  }
  return buf;
}
