/**
 * The object API of one replica: admission (kind lookup, defaults, validation,
 * encryption of Secrets) on the replica that took the call, then a command through the
 * log; reads from this replica's store after a ReadIndex round (linearizable) unless
 * the caller asks for a local read.
 *
 * Pure of gRPC: takes plain objects, returns plain objects, throws ApiError. The gRPC
 * service (service.ts) only converts.
 */
import { randomUUID, randomBytes } from 'node:crypto';
import {
  defaultObject,
  lookupKind,
  kindForVersion,
  parseFieldSelector,
  parseSelector,
  toStorageVersion,
  validateObject,
  type ApiObject,
  type KindInfo,
} from '../api/index.ts';
import {
  SecretCipher,
  TooOldResourceVersionError,
  type Command,
  type ObjectStore,
  type PodBinding,
  type Result,
  type StoredObject,
  type WatchEvent,
  type WatchHandle,
  withoutKeys,
} from '../store/index.ts';
import { ApiError, fieldErrors, fromFailure, invalidArgument, notFound } from './errors.ts';
import { status } from '@grpc/grpc-js';
import type { Applied } from './proposer.ts';
import type { PlainObject } from './convert.ts';

/** The largest object accepted, as Kubernetes' etcd request limit. */
export const MAX_OBJECT_BYTES = 1536 * 1024;
const DEFAULT_WAIT_MS = 10_000;

export interface ObjectsDeps {
  /** The read index for linearizable reads (the Raft replica). */
  replica: { readIndex(timeoutMs: number): Promise<number> };
  store: ObjectStore;
  /** Proposes a command and resolves once this replica applied it. */
  proposer: { propose(cmd: Command, deadline: number): Promise<Applied> };
  cipher: SecretCipher | undefined;
  /** Resolves once the object store has applied everything up to `index`. */
  waitApplied(index: number): Promise<void>;
  /** Wall clock for timestamps (injected for tests). */
  now?: () => Date;
}

export interface ReadOptions {
  serializable?: boolean;
  deadline?: number;
}

export interface ListQuery extends ReadOptions {
  kind: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

export interface WatchQuery {
  kind: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowBookmarks?: boolean;
}

/** Options of every write. */
export interface WriteOptions {
  dryRun?: boolean;
  deadline?: number;
  /**
   * The Raft term the caller decided in (the leader's own components): the write fails
   * with a conflict if it commits in another term.
   */
  term?: number;
}

export interface DeleteOptions {
  term?: number;
  preconditionUid?: string;
  preconditionResourceVersion?: string;
  /** undefined or negative: the object's default. */
  gracePeriodSeconds?: number;
  propagationPolicy?: string;
  dryRun?: boolean;
  deadline?: number;
}

export class ObjectsApi {
  private readonly now: () => Date;

  constructor(private readonly d: ObjectsDeps) {
    this.now = d.now ?? (() => new Date());
  }

  // -------------------------------------------------------------------------------------
  // Writes

  async create(input: PlainObject, opts: WriteOptions = {}): Promise<PlainObject> {
    const info = this.kindOfObject(input);
    let obj = this.admitNew(input, info);
    if (opts.dryRun) return obj;
    await this.checkNamespace(info, obj, opts.deadline);
    obj = this.seal(obj);
    const r = await this.write({ op: 'create', object: obj as StoredObject, now: this.stamp() }, opts.deadline, opts.term);
    return this.reveal(r.object!);
  }

  /**
   * Create many objects in ONE proposal (one Raft entry), each succeeding or failing on its
   * own: one result per input, in order, either the created object or the ApiError that
   * create() would have thrown for it. Admission (defaults, validation, namespace) runs per
   * object; the ones it refuses are not proposed. The entry's sub-commands apply in order,
   * so two inputs with the same name: the first wins, the second is AlreadyExists.
   * Throws only when the proposal itself fails (no leader, timeout: outcome unknown).
   */
  async createMany(inputs: PlainObject[], opts: WriteOptions = {}): Promise<({ object: PlainObject } | { error: ApiError })[]> {
    const out: ({ object: PlainObject } | { error: ApiError })[] = new Array(inputs.length);
    const cmds: Command[] = [];
    const slots: number[] = [];
    const now = this.stamp();
    for (let i = 0; i < inputs.length; i++) {
      try {
        const input = inputs[i]!;
        const info = this.kindOfObject(input);
        let obj = this.admitNew(input, info);
        if (!opts.dryRun) {
          await this.checkNamespace(info, obj, opts.deadline);
          obj = this.seal(obj);
        }
        if (opts.dryRun) {
          out[i] = { object: obj };
          continue;
        }
        cmds.push({ op: 'create', object: obj as StoredObject, now, ...(opts.term !== undefined ? { precondition: { term: opts.term } } : {}) });
        slots.push(i);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        out[i] = { error: e };
      }
    }
    if (cmds.length === 0) return out;
    const applied = await this.d.proposer.propose({ op: 'batch', independent: true, commands: cmds }, opts.deadline ?? Date.now() + DEFAULT_WAIT_MS);
    const r = applied.result;
    if (!r.ok) throw fromFailure(r);
    const results = r.results ?? [];
    for (let j = 0; j < slots.length; j++) {
      const rj = results[j];
      if (rj === undefined) out[slots[j]!] = { error: new ApiError(status.INTERNAL, 'the batch reported no result for this object') };
      else if (rj.ok) out[slots[j]!] = { object: this.reveal(rj.object!) };
      else out[slots[j]!] = { error: fromFailure(rj) };
    }
    return out;
  }

  /**
   * Replace an object (or its status). With metadata.resourceVersion the write is
   * conditional on it. Without, it is validated against the object as this replica has
   * it and made conditional on that version; a conflict means another write came first,
   * so it re-reads (linearizably) and tries again, as Kubernetes' GuaranteedUpdate does.
   * Either way no update is ever validated against one version and applied to another.
   */
  async update(input: PlainObject, opts: WriteOptions & { status?: boolean } = {}): Promise<PlainObject> {
    const info = this.kindOfObject(input);
    const name = nameOf(input);
    const ns = this.namespaceFor(info, input);
    const wanted = str(meta(input).resourceVersion);
    // Without a precondition a lost race is retried until the deadline, not a fixed number
    // of times: an unconditional update must not fail with a conflict it never asked for.
    const until = opts.deadline ?? Date.now() + DEFAULT_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await this.sync(opts.deadline);
      let current = this.d.store.get(info.kind, ns, name);
      if (!current && attempt === 0) {
        await this.sync(opts.deadline);
        current = this.d.store.get(info.kind, ns, name);
      }
      if (!current) throw notFound(info.plural, name);
      const old = this.reveal(current);
      const next = opts.status ? { ...old, status: input.status } : this.desired(input, info, ns);
      const errs = validateObject(next, { operation: 'update', old: old as ApiObject });
      if (errs.length > 0) throw fieldErrors(info.kind, name, errs);
      if (opts.dryRun) return { ...next, status: opts.status ? next.status : old.status };
      const cmd: Command = {
        op: opts.status ? 'updateStatus' : 'update',
        object: this.seal(next) as StoredObject,
        precondition: { resourceVersion: wanted || str(current.metadata.resourceVersion) },
        now: this.stamp(),
      };
      try {
        const r = await this.write(cmd, opts.deadline, opts.term);
        return this.reveal(r.object!);
      } catch (e) {
        if (wanted || !(e instanceof ApiError && e.code === status.ABORTED) || Date.now() >= until) throw e;
      }
    }
  }

  /**
   * Create if absent, otherwise replace everything but status with what is given
   * (kubectl apply's outcome, decided on the server). Retries a lost race a few times.
   */
  async apply(input: PlainObject, opts: WriteOptions = {}): Promise<{ object: PlainObject; outcome: 'created' | 'configured' | 'unchanged' }> {
    const info = this.kindOfObject(input);
    const name = nameOf(input);
    const ns = this.namespaceFor(info, input);
    for (let attempt = 0; ; attempt++) {
      // The first attempt trusts this replica's state when it has the object; a missing
      // object or a lost race is checked against the leader's.
      let current = attempt === 0 ? this.d.store.get(info.kind, ns, name) : undefined;
      if (!current) {
        await this.sync(opts.deadline);
        current = this.d.store.get(info.kind, ns, name);
      }
      try {
        if (!current) return { object: await this.create(input, opts), outcome: 'created' };
        const old = this.reveal(current);
        const next = this.desired(input, info, ns);
        const errs = validateObject(next, { operation: 'update', old: old as ApiObject });
        if (errs.length > 0) throw fieldErrors(info.kind, name, errs);
        if (sameDesired(old, next)) return { object: old, outcome: 'unchanged' };
        if (opts.dryRun) return { object: { ...next, status: old.status }, outcome: 'configured' };
        const r = await this.write(
          { op: 'update', object: this.seal(next) as StoredObject, precondition: { resourceVersion: str(meta(old).resourceVersion) }, now: this.stamp() },
          opts.deadline,
          opts.term,
        );
        return { object: this.reveal(r.object!), outcome: 'configured' };
      } catch (e) {
        // Lost a race, or this replica's state was behind (the object was just deleted).
        const raced = e instanceof ApiError && (e.code === status.ABORTED || e.code === status.ALREADY_EXISTS || e.code === status.NOT_FOUND);
        // A lost race is retried until the deadline (as update is); NotFound only a few
        // times, since it may simply be true (e.g. the namespace does not exist).
        const budgetLeft = (opts.deadline ?? Infinity) > Date.now();
        if (!raced || !budgetLeft || (e.code === status.NOT_FOUND && attempt >= 3)) throw e;
      }
    }
  }

  /** What the client asks for, defaulted, in storage version, without server-owned fields. */
  private desired(input: PlainObject, info: KindInfo, ns: string): PlainObject {
    const next = defaultObject(withNamespace(stripServerFields(input), info, ns) as ApiObject) as PlainObject;
    return serverDefaults(toStorageVersion(next as ApiObject) as PlainObject);
  }

  async delete(kind: string, namespace: string, name: string, opts: DeleteOptions = {}): Promise<PlainObject> {
    const info = this.kind(kind);
    if (!name) throw invalidArgument('ref.name: Required value');
    const ns = info.namespaced ? namespace || 'default' : '';
    if (info.kind === 'Namespace' && (name === 'default' || name === 'kube-system')) {
      throw new ApiError(status.FAILED_PRECONDITION, `namespaces "${name}" is forbidden: this namespace may not be deleted`);
    }
    const policy = opts.propagationPolicy || 'background';
    if (!['background', 'foreground', 'orphan'].includes(policy.toLowerCase())) {
      throw invalidArgument(`propagation_policy: Unsupported value: "${policy}": supported values: "background", "foreground", "orphan"`);
    }
    // Foreground and orphan deletion: the object is marked with a finalizer that the
    // garbage collector (on the leader) works off before the object goes.
    const finalizer = { foreground: 'foregroundDeletion', orphan: 'orphan' }[policy.toLowerCase()];
    if (opts.dryRun) {
      await this.sync(opts.deadline);
      const cur = this.d.store.get(info.kind, ns, name);
      if (!cur) throw notFound(info.plural, name);
      return this.reveal(cur);
    }
    const precondition = {
      ...(opts.preconditionUid ? { uid: opts.preconditionUid } : {}),
      ...(opts.preconditionResourceVersion ? { resourceVersion: opts.preconditionResourceVersion } : {}),
    };
    const cmd: Command = {
      op: 'delete',
      kind: info.kind,
      namespace: ns,
      name,
      ...(Object.keys(precondition).length > 0 ? { precondition } : {}),
      ...(opts.gracePeriodSeconds !== undefined && opts.gracePeriodSeconds >= 0 ? { gracePeriodSeconds: opts.gracePeriodSeconds } : {}),
      ...(finalizer ? { addFinalizers: [finalizer] } : {}),
      now: this.stamp(),
    };
    const r = await this.write(cmd, opts.deadline, opts.term);
    return this.reveal((r.object ?? r.prev)!);
  }

  // -------------------------------------------------------------------------------------
  // Reads

  async get(kind: string, namespace: string, name: string, opts: ReadOptions = {}): Promise<PlainObject> {
    const info = this.kind(kind);
    if (!name) throw invalidArgument('ref.name: Required value');
    if (!opts.serializable) await this.sync(opts.deadline);
    const o = this.d.store.get(info.kind, info.namespaced ? namespace || 'default' : '', name);
    if (!o) throw notFound(info.plural, name);
    return this.reveal(o);
  }

  async list(q: ListQuery): Promise<{ items: PlainObject[]; resourceVersion: string; continue?: string }> {
    const info = this.kind(q.kind);
    const filter = this.filterFor(info, q.labelSelector, q.fieldSelector);
    if (q.limit !== undefined && q.limit < 0) throw invalidArgument('limit: Invalid value: must be >= 0');
    if (!q.serializable) await this.sync(q.deadline);
    let r;
    try {
      r = this.d.store.list({
        kind: info.kind,
        ...(info.namespaced && q.namespace ? { namespace: q.namespace } : {}),
        ...(filter ? { filter } : {}),
        ...(q.limit ? { limit: q.limit } : {}),
        ...(q.continue ? { continue: q.continue } : {}),
      });
    } catch (e) {
      throw invalidArgument((e as Error).message);
    }
    return {
      items: r.items.map((o) => this.reveal(o)),
      resourceVersion: r.resourceVersion,
      ...(r.continue ? { continue: r.continue } : {}),
    };
  }

  /**
   * Watch changes. With no resourceVersion (or "0"), the current objects come first as
   * ADDED events, then every change (Kubernetes' "get state and start at most recent").
   */
  async watch(q: WatchQuery, onEvent: (ev: WatchEvent) => void): Promise<WatchHandle> {
    const info = this.kind(q.kind);
    const filter = this.filterFor(info, q.labelSelector, q.fieldSelector);
    const ns = info.namespaced && q.namespace ? q.namespace : undefined;
    let from = q.resourceVersion ?? '';
    if (from === '' || from === '0') {
      await this.sync();
      const l = this.d.store.list({ kind: info.kind, ...(ns ? { namespace: ns } : {}), ...(filter ? { filter } : {}) });
      for (const o of l.items) onEvent({ type: 'ADDED', object: this.revealShared(o), resourceVersion: str(o.metadata.resourceVersion) } as WatchEvent);
      from = l.resourceVersion;
    } else if (!/^\d+$/.test(from)) {
      throw invalidArgument(`resource_version: Invalid value: "${from}": must be an integer`);
    }
    // A watch of one object by name (metadata.name=X) is indexed by that name in the store.
    const byName = q.fieldSelector ? parseFieldSelector(q.fieldSelector, info.kind).requirements.find((r) => r.field === 'metadata.name' && r.operator === '=') : undefined;
    try {
      return this.d.store.watch(
        {
          kind: info.kind,
          ...(ns ? { namespace: ns } : {}),
          ...(filter ? { filter } : {}),
          ...(byName ? { name: byName.value } : {}),
          fromResourceVersion: from,
          bookmarks: Boolean(q.allowBookmarks),
        },
        (ev) => onEvent(ev.type !== 'BOOKMARK' && ev.type !== 'ERROR' && ev.object.kind === 'Secret' ? { ...ev, object: this.revealShared(ev.object) } : ev),
      );
    } catch (e) {
      if (e instanceof TooOldResourceVersionError) throw new ApiError(status.OUT_OF_RANGE, e.message);
      throw invalidArgument((e as Error).message);
    }
  }

  /** Make sure `default` and `kube-system` exist (the leader calls this once it leads). */
  async ensureNamespaces(deadline: number): Promise<void> {
    for (const name of ['default', 'kube-system']) {
      if (this.d.store.get('Namespace', '', name)) continue;
      try {
        await this.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, { deadline });
      } catch (e) {
        if (!(e instanceof ApiError && e.code === status.ALREADY_EXISTS)) throw e;
      }
    }
  }

  // -------------------------------------------------------------------------------------
  // Plumbing

  /** Linearizable read point: wait until this replica's store has applied the leader's commit. */
  private async sync(deadline?: number): Promise<void> {
    const budget = Math.max(1, (deadline ?? Date.now() + DEFAULT_WAIT_MS) - Date.now());
    const index = await this.d.replica.readIndex(budget);
    await this.d.waitApplied(index);
  }

  /**
   * Bind pods to nodes in one entry; each binding succeeds or fails on its own (the store
   * re-checks that it still fits). Returns one result per binding, in order.
   */
  async bind(bindings: PodBinding[], opts: { deadline?: number; term?: number } = {}): Promise<Result[]> {
    if (bindings.length === 0) return [];
    const cmd: Command = { op: 'bind', bindings, now: this.stamp() };
    if (opts.term !== undefined) cmd.precondition = { term: opts.term };
    const applied = await this.d.proposer.propose(cmd, opts.deadline ?? Date.now() + DEFAULT_WAIT_MS);
    const r = applied.result;
    if (!r.ok) throw fromFailure(r);
    return r.results ?? [];
  }

  private async write(cmd: Command, deadline?: number, term?: number): Promise<{ object?: StoredObject; prev?: StoredObject }> {
    if (term !== undefined && cmd.op !== 'batch' && cmd.op !== 'noop') cmd.precondition = { ...cmd.precondition, term };
    const applied = await this.d.proposer.propose(cmd, deadline ?? Date.now() + DEFAULT_WAIT_MS);
    const r: Result = applied.result;
    if (!r.ok) throw fromFailure(r);
    return { ...(r.object ? { object: r.object } : {}), ...(r.prev ? { prev: r.prev } : {}) };
  }

  /** The kind by name, plural or short name (NOT_FOUND when unknown). */
  kind(name: string): KindInfo {
    const info = name ? lookupKind(name) : undefined;
    if (!info) throw new ApiError(status.NOT_FOUND, `the server doesn't have a resource type "${name}"`);
    return info;
  }

  private kindOfObject(o: PlainObject): KindInfo {
    const info = o.kind && o.apiVersion ? kindForVersion(String(o.apiVersion), String(o.kind)) : undefined;
    if (!info) {
      // apiVersion or kind missing or not served: the errors as they are (decoding errors
      // have no "X is invalid" header), and in the trailer like every other field error.
      const errs = validateObject(o);
      if (errs.length === 0) throw invalidArgument(`no kind "${str(o.kind)}" is registered for version "${str(o.apiVersion)}"`);
      const structured = fieldErrors(str(o.kind), str(meta(o).name), errs);
      throw new ApiError(status.INVALID_ARGUMENT, errs.map((e) => e.toString()).join('\n'), structured.trailers);
    }
    return info;
  }

  private namespaceFor(info: KindInfo, o: PlainObject): string {
    return info.namespaced ? str(meta(o).namespace) || 'default' : '';
  }

  /** Defaults, server-set metadata and validation for a new object. */
  private admitNew(input: PlainObject, info: KindInfo): PlainObject {
    const size = Buffer.byteLength(JSON.stringify(input));
    if (size > MAX_OBJECT_BYTES) throw new ApiError(status.RESOURCE_EXHAUSTED, `object is too large: ${size} bytes, the limit is ${MAX_OBJECT_BYTES}`);
    const m = withoutKeys(meta(input), SERVER_SET_ON_CREATE);
    if (!m.name && m.generateName) m.name = `${m.generateName}${randomSuffix()}`;
    let obj = defaultObject({ ...input, metadata: m } as ApiObject) as PlainObject;
    const errs = validateObject(obj, { operation: 'create' });
    if (errs.length > 0) throw fieldErrors(info.kind, str(m.name) || str(m.generateName), errs);
    obj = toStorageVersion(obj as ApiObject) as PlainObject;
    const om = { ...meta(obj), uid: randomUUID(), creationTimestamp: this.stamp() };
    obj = { ...obj, metadata: om };
    obj = serverDefaults(obj);
    if (info.kind === 'Namespace') {
      obj = { ...obj, status: { phase: 'Active' } };
    } else if (info.kind === 'Pod' && !(obj.status as { phase?: string } | undefined)?.phase) {
      obj = { ...obj, status: { phase: 'Pending', qosClass: qosClass(obj) } };
    }
    return obj;
  }

  private async checkNamespace(info: KindInfo, obj: PlainObject, deadline?: number): Promise<void> {
    if (!info.namespaced) return;
    const ns = str(meta(obj).namespace);
    let n = this.d.store.get('Namespace', '', ns);
    if (!n) {
      await this.sync(deadline);
      n = this.d.store.get('Namespace', '', ns);
    }
    if (!n) throw new ApiError(status.NOT_FOUND, `namespaces "${ns}" not found`);
    if (n.metadata.deletionTimestamp) {
      throw new ApiError(status.FAILED_PRECONDITION, `${info.plural} "${str(meta(obj).name)}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`);
    }
  }

  /** A store filter for label and field selectors (INVALID_ARGUMENT when malformed). */
  filterFor(info: KindInfo, labelSel?: string, fieldSel?: string): ((o: StoredObject) => boolean) | undefined {
    let ls, fs;
    try {
      ls = labelSel ? parseSelector(labelSel) : undefined;
    } catch (e) {
      throw invalidArgument(`label_selector: ${(e as Error).message}`);
    }
    try {
      fs = fieldSel ? parseFieldSelector(fieldSel, info.kind) : undefined;
    } catch (e) {
      throw invalidArgument(`field_selector: ${(e as Error).message}`);
    }
    if (!ls && !fs) return undefined;
    return (o) => (!ls || ls.matches(o.metadata.labels ?? {})) && (!fs || fs.matches(o as unknown as ApiObject));
  }

  private seal(o: PlainObject): PlainObject {
    if (o.kind !== 'Secret') return o;
    if (!this.d.cipher) {
      throw new ApiError(status.FAILED_PRECONDITION, 'this server has no encryption key (--encryption-key-file): it refuses to store Secrets in plaintext');
    }
    return this.d.cipher.encrypt(o as StoredObject) as PlainObject;
  }

  /** The object as a client sees it (Secrets decrypted). */
  reveal(o: StoredObject | PlainObject): PlainObject {
    if (o.kind === 'Secret' && this.d.cipher && SecretCipher.isEncrypted(o as StoredObject)) {
      return this.d.cipher.decrypt(o as StoredObject) as PlainObject;
    }
    return o as PlainObject;
  }

  /** Secrets decrypted during the current turn (a change reaches all its watchers in one). */
  private revealed: Map<StoredObject, StoredObject> | undefined;

  /** {@link reveal} for objects handed to many watchers: decrypted once per turn, frozen. */
  private revealShared(o: StoredObject): StoredObject {
    if (o.kind !== 'Secret') return o;
    let r = this.revealed?.get(o);
    if (r === undefined) {
      r = this.reveal(o) as StoredObject;
      if (r !== o) Object.freeze(r);
      if (this.revealed === undefined) {
        this.revealed = new Map();
        queueMicrotask(() => (this.revealed = undefined));
      }
      this.revealed.set(o, r);
    }
    return r;
  }

  private stamp(): string {
    return this.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
}

function meta(o: PlainObject): Record<string, unknown> {
  return (o.metadata ?? {}) as Record<string, unknown>;
}

function nameOf(o: PlainObject): string {
  const n = str(meta(o).name);
  if (!n) throw invalidArgument('metadata.name: Required value');
  return n;
}

function str(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

function withNamespace(o: PlainObject, info: KindInfo, ns: string): PlainObject {
  if (!info.namespaced) return o;
  return { ...o, metadata: { ...meta(o), namespace: ns } };
}

/** Metadata the server sets on an update, whatever the client sent. */
const SERVER_SET_ON_UPDATE: ReadonlySet<string> = new Set(['resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds']);
/** ... and on a create, the uid too. */
const SERVER_SET_ON_CREATE: ReadonlySet<string> = new Set([...SERVER_SET_ON_UPDATE, 'uid']);

/** Drop what the server owns from a client's object before an update. */
function stripServerFields(o: PlainObject): PlainObject {
  const m = withoutKeys(meta(o), SERVER_SET_ON_UPDATE);
  const { status: _status, ...rest } = o;
  return { ...rest, metadata: m };
}

/** Would replacing `old` with `next` change anything a user controls? */
function sameDesired(old: PlainObject, next: PlainObject): boolean {
  const pick = (o: PlainObject) => {
    const m = meta(o);
    const { status: _s, metadata: _m, ...rest } = o;
    return JSON.stringify(canonical({ rest, labels: m.labels ?? {}, annotations: m.annotations ?? {}, owners: m.ownerReferences ?? [], finalizers: m.finalizers ?? [] }));
  };
  return pick(old) === pick(next);
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = canonical(x);
    }
    return out;
  }
  return v;
}

/** Defaults the API server adds beyond src/api's (applied on create and on every update). */
function serverDefaults(o: PlainObject): PlainObject {
  if (o.kind === 'Namespace' && !(o.spec as { finalizers?: unknown } | undefined)?.finalizers) {
    // The namespace controller's finalizer: content is removed before the namespace goes.
    return { ...o, spec: { ...(o.spec as object), finalizers: ['kubernetes'] } };
  }
  return o;
}

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const b = randomBytes(5);
  let s = '';
  for (const x of b) s += alphabet[x % alphabet.length];
  return s;
}

/** Kubernetes' QoS class of a pod from its containers' requests and limits. */
function qosClass(pod: PlainObject): string {
  const spec = (pod.spec ?? {}) as { containers?: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[]; initContainers?: typeof spec.containers };
  const cs = [...(spec.containers ?? []), ...(spec.initContainers ?? [])];
  let any = false;
  let guaranteed = true;
  for (const c of cs) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (Object.keys(req).length > 0 || Object.keys(lim).length > 0) any = true;
    for (const r of ['cpu', 'memory']) {
      if (!lim[r] || (req[r] !== undefined && req[r] !== lim[r])) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}
