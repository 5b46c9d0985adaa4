/**
 * The store's rules: how each command changes the objects. Pure over a {@link Txn} (a
 * write set layered over what is stored), so a batch can be tried and thrown away, and
 * the caller decides when changes reach the disk and the watchers.
 *
 * Every function here is deterministic in (stored state, command, index): it is run by
 * every replica on the same committed entries and must reach the same bytes.
 */
import type { BatchCommand, BindCommand, Command, CreateCommand, DeleteCommand, Precondition, UpdateCommand, UpdateStatusCommand } from './commands.ts';
import { addSeconds, deepEqual, deepFreeze, fullKey, putData, SEP } from './object-util.ts';
import type { ChangeEvent, Failure, FailureCode, JsonObject, KindInfo, KindInfoFn, ObjectMeta, Result, StoredObject } from './types.ts';

/** One pending change: the object's new state, or null when it is removed. */
export interface Change {
  kind: string;
  namespace: string;
  name: string;
  object: StoredObject | null;
}

/**
 * A write set over a read view. Reads see the pending changes first. `events` are the
 * watch events of the pending changes, in order.
 */
export class Txn {
  readonly changes = new Map<string, Change>();
  readonly events: ChangeEvent[] = [];
  /** Keys of pods this write set put on each node (for the binding check). */
  readonly podsByNode = new Map<string, Set<string>>();

  constructor(private readonly base: (key: string) => StoredObject | undefined) {}

  get(key: string): StoredObject | undefined {
    const c = this.changes.get(key);
    if (c) return c.object ?? undefined;
    return this.base(key);
  }

  put(key: string, object: StoredObject, event: ChangeEvent): void {
    this.changes.set(key, { kind: event.kind, namespace: event.namespace, name: object.metadata.name, object });
    this.events.push(event);
    if (event.kind === 'Pod') {
      const node = object.spec?.nodeName;
      if (typeof node === 'string' && node !== '') {
        let set = this.podsByNode.get(node);
        if (!set) this.podsByNode.set(node, (set = new Set()));
        set.add(key);
      }
    }
  }

  remove(key: string, event: ChangeEvent): void {
    this.changes.set(key, { kind: event.kind, namespace: event.namespace, name: event.object.metadata.name, object: null });
    this.events.push(event);
  }

  /** A nested write set whose changes reach this one only through {@link mergeInto}. */
  child(): Txn {
    const c = new Txn((k) => this.get(k));
    c.parent = this;
    return c;
  }

  private parent: Txn | undefined;

  mergeInto(parent: Txn): void {
    for (const [k, c] of this.changes) parent.changes.set(k, c);
    parent.events.push(...this.events);
    for (const [node, keys] of this.podsByNode) {
      let set = parent.podsByNode.get(node);
      if (!set) parent.podsByNode.set(node, (set = new Set()));
      for (const k of keys) set.add(k);
    }
  }

  /** Keys of pods this write set or its parents put on `node`. */
  podKeysOn(node: string, into: Set<string>): void {
    const mine = this.podsByNode.get(node);
    if (mine) for (const k of mine) into.add(k);
    this.parent?.podKeysOn(node, into);
  }
}

// ---------------------------------------------------------------------------------------

const failure = (code: FailureCode, message: string): Failure => ({ ok: false, code, message });

/** Where a command's object lives, resolved against the kind registry. */
interface Target {
  info: KindInfo;
  kind: string;
  namespace: string;
  name: string;
  key: string;
}

function resolve(kinds: KindInfoFn, kind: string, namespace: string | undefined, name: string): Target | Failure {
  const info = kinds(kind);
  if (!info) return failure('Invalid', `unknown kind "${kind}"`);
  if (kind.includes(SEP)) return failure('Invalid', `kind "${kind}" contains a NUL character`);
  if (name === '') return failure('Invalid', `${info.plural}: metadata.name: Required value: name is required`);
  if (name.includes(SEP) || name.includes('/')) return failure('Invalid', `${info.plural} "${name}": metadata.name: Invalid value: may not contain '/' or NUL`);
  let ns = '';
  if (info.namespaced) {
    ns = namespace ?? '';
    if (ns === '') return failure('Invalid', `${info.plural} "${name}": metadata.namespace: Required value: the kind is namespaced`);
    if (ns.includes(SEP) || ns.includes('/')) return failure('Invalid', `${info.plural} "${name}": metadata.namespace: Invalid value: may not contain '/' or NUL`);
  }
  return { info, kind, namespace: ns, name, key: fullKey(kind, ns, name) };
}

const isFailure = (v: Target | Failure): v is Failure => 'ok' in v;

const notFound = (t: Target): Failure => failure('NotFound', `${t.info.plural} "${t.name}" not found`);

const conflict = (t: Target, why: string): Failure =>
  failure('Conflict', `Operation cannot be fulfilled on ${t.info.plural} "${t.name}": ${why}`);

function checkPrecondition(t: Target, stored: StoredObject, p: Precondition | undefined): Failure | undefined {
  if (!p) return undefined;
  if (p.uid !== undefined && p.uid !== stored.metadata.uid) {
    return conflict(t, `Precondition failed: UID in precondition: ${p.uid}, UID in object meta: ${stored.metadata.uid ?? ''}`);
  }
  if (p.resourceVersion !== undefined && p.resourceVersion !== stored.metadata.resourceVersion) {
    return conflict(t, 'the object has been modified; please apply your changes to the latest version and try again');
  }
  return undefined;
}

/**
 * `{ ...base, ...over }` without its undefined values, in one pass: the keys of `base` in
 * their order (a key of `over` replacing its value), then the other keys of `over`. Copied
 * key by key rather than spread and then `delete`d (deleting keys turns an object into a
 * slow dictionary, and stored metadata is read on every later write) or spread and copied
 * again: that took ~5 µs of every update's apply, on every replica.
 */
function overlay(base: ObjectMeta, over: Record<string, unknown>): ObjectMeta {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(base)) {
    const v = Object.hasOwn(over, k) ? over[k] : base[k];
    if (v !== undefined) putData(out, k, v);
  }
  for (const k of Object.keys(over)) {
    const v = over[k];
    if (v !== undefined && !Object.hasOwn(base, k)) putData(out, k, v);
  }
  return out as ObjectMeta;
}


function event(type: ChangeEvent['type'], t: Target, object: StoredObject, prev: StoredObject | undefined, rv: number): ChangeEvent {
  const e: ChangeEvent = { type, object, rv, kind: t.kind, namespace: t.namespace };
  if (prev) e.prev = prev;
  return e;
}

/** The object leaves the store at `rv`; `last` is its final content. */
function removeObject(txn: Txn, t: Target, last: StoredObject, prev: StoredObject, rv: number): Result {
  const object = deepFreeze({ ...last, metadata: { ...last.metadata, resourceVersion: String(rv) } });
  txn.remove(t.key, event('DELETED', t, object, prev, rv));
  return { ok: true, object, prev, removed: true };
}

/** Nothing blocks removal: no finalizers and no graceful termination pending. */
function removable(m: ObjectMeta, o?: StoredObject): boolean {
  return (m.finalizers ?? []).length === 0 && !((m.deletionGracePeriodSeconds ?? 0) > 0) && !namespaceFinalizing(o);
}

/**
 * A Namespace also waits for its spec.finalizers (the namespace controller removes
 * "kubernetes" once everything inside is gone), as Kubernetes' namespace lifecycle does.
 */
function namespaceFinalizing(o: StoredObject | undefined): boolean {
  const f = o?.kind === 'Namespace' ? o.spec?.finalizers : undefined;
  return Array.isArray(f) && f.length > 0;
}

// ---------------------------------------------------------------------------------------

/** What applying a command may consult besides the objects. Deterministic on every replica. */
export interface ApplyEnv {
  /** The Raft term the entry was committed in (absent: not known, e.g. in unit tests). */
  term?: number;
  /** Keys (fullKey) of the pods bound to `node` before this entry (the store's index). */
  podKeysOnNode?: (node: string) => Iterable<string>;
  /**
   * Does `pod` still fit on `node` beside `podsOnNode`? undefined: yes; else the reason
   * (e.g. "Insufficient cpu"). Absent: every binding fits.
   */
  bindCheck?: (node: StoredObject, pod: StoredObject, podsOnNode: StoredObject[]) => string | undefined;
}

const NO_ENV: ApplyEnv = {};

function termMismatch(cmd: Command, env: ApplyEnv): Failure | undefined {
  const want = 'precondition' in cmd ? cmd.precondition?.term : undefined;
  if (want === undefined || env.term === undefined || want === env.term) return undefined;
  return failure('Conflict', `Operation cannot be fulfilled: decided in term ${want} but committed in term ${env.term} (leadership changed)`);
}

/** Apply one command at Raft index `rv` inside `txn`. Never throws for bad input: the outcome is a value. */
export function applyCommand(cmd: Command, rv: number, txn: Txn, kinds: KindInfoFn, env: ApplyEnv = NO_ENV): Result {
  const stale = termMismatch(cmd, env);
  if (stale) return stale;
  switch (cmd.op) {
    case 'create':
      return create(cmd, rv, txn, kinds);
    case 'update':
      return update(cmd, rv, txn, kinds);
    case 'updateStatus':
      return updateStatus(cmd, rv, txn, kinds);
    case 'delete':
      return del(cmd, rv, txn, kinds);
    case 'bind':
      return bind(cmd, rv, txn, kinds, env);
    case 'batch':
      return batch(cmd, rv, txn, kinds, env);
    case 'noop':
      return { ok: true };
    default: {
      const never: never = cmd;
      return failure('Invalid', `unknown op ${JSON.stringify((never as { op?: unknown }).op)}`);
    }
  }
}

function create(cmd: CreateCommand, rv: number, txn: Txn, kinds: KindInfoFn): Result {
  const req = cmd.object;
  const t = resolve(kinds, req.kind, req.metadata.namespace, req.metadata.name);
  if (isFailure(t)) return t;
  if (txn.get(t.key)) return failure('AlreadyExists', `${t.info.plural} "${t.name}" already exists`);
  const uid = req.metadata.uid;
  if (typeof uid !== 'string' || uid === '') {
    return failure('Invalid', `${t.info.plural} "${t.name}": metadata.uid: Required value: the proposer must set the uid`);
  }
  const metadata = overlay(req.metadata, {
    namespace: t.info.namespaced ? t.namespace : undefined,
    resourceVersion: String(rv),
    generation: 1,
    creationTimestamp: req.metadata.creationTimestamp ?? cmd.now,
    // A new object is never being deleted.
    deletionTimestamp: undefined,
    deletionGracePeriodSeconds: undefined,
  });
  const object = deepFreeze({ ...req, metadata });
  txn.put(t.key, object, event('ADDED', t, object, undefined, rv));
  return { ok: true, object };
}

function update(cmd: UpdateCommand, rv: number, txn: Txn, kinds: KindInfoFn): Result {
  const req = cmd.object;
  const t = resolve(kinds, req.kind, req.metadata.namespace, req.metadata.name);
  if (isFailure(t)) return t;
  const prev = txn.get(t.key);
  if (!prev) return notFound(t);
  const bad = checkPrecondition(t, prev, cmd.precondition);
  if (bad) return bad;
  const pm = prev.metadata;
  if (pm.deletionTimestamp !== undefined) {
    const had = new Set(pm.finalizers ?? []);
    const added = (req.metadata.finalizers ?? []).filter((f) => !had.has(f));
    if (added.length > 0) {
      return failure('Invalid', `${t.info.plural} "${t.name}": metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`);
    }
  }
  const metadata = overlay(req.metadata, {
    name: t.name,
    namespace: t.info.namespaced ? t.namespace : undefined,
    uid: pm.uid,
    resourceVersion: pm.resourceVersion,
    generation: pm.generation,
    creationTimestamp: pm.creationTimestamp,
    deletionTimestamp: pm.deletionTimestamp,
    deletionGracePeriodSeconds: pm.deletionGracePeriodSeconds,
  });
  const next: StoredObject = { ...req, kind: t.kind, metadata };
  // Status belongs to the status subresource: keep what is stored.
  if (prev.status === undefined) delete next.status;
  else next.status = prev.status;
  // Kinds with a spec count spec changes; kinds without one (ConfigMap, Secret) keep their generation.
  const hasSpec = prev.spec !== undefined || next.spec !== undefined;
  if (hasSpec && !deepEqual(prev.spec, next.spec)) metadata.generation = (pm.generation ?? 0) + 1;
  if (deepEqual(next, prev)) return { ok: true, object: prev, prev, unchanged: true };
  metadata.resourceVersion = String(rv);
  if (pm.deletionTimestamp !== undefined && removable(metadata, next)) return removeObject(txn, t, next, prev, rv);
  const object = deepFreeze(next);
  txn.put(t.key, object, event('MODIFIED', t, object, prev, rv));
  return { ok: true, object, prev };
}

function updateStatus(cmd: UpdateStatusCommand, rv: number, txn: Txn, kinds: KindInfoFn): Result {
  const req = cmd.object;
  const t = resolve(kinds, req.kind, req.metadata.namespace, req.metadata.name);
  if (isFailure(t)) return t;
  const prev = txn.get(t.key);
  if (!prev) return notFound(t);
  const bad = checkPrecondition(t, prev, cmd.precondition);
  if (bad) return bad;
  if (deepEqual(prev.status, req.status)) return { ok: true, object: prev, prev, unchanged: true };
  const next: StoredObject = { ...prev, metadata: { ...prev.metadata, resourceVersion: String(rv) } };
  if (req.status === undefined) delete next.status;
  else next.status = req.status;
  const object = deepFreeze(next);
  const ev = event('MODIFIED', t, object, prev, rv);
  if (cmd.reporter !== undefined) ev.origin = cmd.reporter;
  txn.put(t.key, object, ev);
  return { ok: true, object, prev };
}

/**
 * How long a pod gets to stop. Only a pod bound to a node and not yet finished is
 * terminated gracefully (Kubernetes' pod strategy): an unscheduled or finished pod has
 * nothing running to stop.
 */
function podGracePeriod(pod: StoredObject, requested: number | undefined): number {
  const spec = pod.spec ?? {};
  const nodeName = spec.nodeName;
  if (typeof nodeName !== 'string' || nodeName === '') return 0;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return 0;
  if (requested !== undefined) return requested;
  const tgps = spec.terminationGracePeriodSeconds;
  return typeof tgps === 'number' && Number.isSafeInteger(tgps) && tgps >= 0 ? tgps : 30;
}

function del(cmd: DeleteCommand, rv: number, txn: Txn, kinds: KindInfoFn): Result {
  const t = resolve(kinds, cmd.kind, cmd.namespace, cmd.name);
  if (isFailure(t)) return t;
  const prev = txn.get(t.key);
  if (!prev) return notFound(t);
  const bad = checkPrecondition(t, prev, cmd.precondition);
  if (bad) return bad;
  let pm = prev.metadata;
  if (cmd.addFinalizers && cmd.addFinalizers.length > 0 && pm.deletionTimestamp === undefined) {
    const have = pm.finalizers ?? [];
    const more = cmd.addFinalizers.filter((f, i, all) => !have.includes(f) && all.indexOf(f) === i);
    if (more.length > 0) pm = { ...pm, finalizers: [...have, ...more] };
  }
  const grace = t.kind === 'Pod' ? podGracePeriod(prev, cmd.gracePeriodSeconds) : 0;
  const hasFinalizers = (pm.finalizers ?? []).length > 0 || namespaceFinalizing(prev);

  if (pm.deletionTimestamp !== undefined) {
    // Already being deleted. Only a shorter grace period changes anything (the node agent
    // confirms a pod's termination with 0).
    const current = pm.deletionGracePeriodSeconds ?? 0;
    if (grace >= current) return { ok: true, object: prev, prev, unchanged: true };
    if (grace === 0 && !hasFinalizers) return removeObject(txn, t, prev, prev, rv);
  } else if (grace === 0 && !hasFinalizers) {
    return removeObject(txn, t, prev, prev, rv);
  }

  // Mark: the object stays, with deletionTimestamp = now + grace, until its finalizers are
  // gone and (pods) the agent has confirmed. Generation moves, as in Kubernetes, so
  // controllers see that the desired state changed.
  let deletionTimestamp = addSeconds(cmd.now, grace);
  if (deletionTimestamp === undefined) return failure('Invalid', `delete ${t.info.plural} "${t.name}": now: Invalid value: ${JSON.stringify(cmd.now)} is not a timestamp`);
  // Shortening a grace period never moves the deadline later.
  if (pm.deletionTimestamp !== undefined && Date.parse(pm.deletionTimestamp) < Date.parse(deletionTimestamp)) {
    deletionTimestamp = pm.deletionTimestamp;
  }
  const metadata: ObjectMeta = {
    ...pm,
    resourceVersion: String(rv),
    deletionTimestamp,
    deletionGracePeriodSeconds: grace,
  };
  if (pm.generation !== undefined) metadata.generation = pm.generation + 1;
  const object = deepFreeze({ ...prev, metadata });
  txn.put(t.key, object, event('MODIFIED', t, object, prev, rv));
  return { ok: true, object, prev, removed: false };
}

function bind(cmd: BindCommand, rv: number, txn: Txn, kinds: KindInfoFn, env: ApplyEnv): Result {
  const results: Result[] = [];
  for (const b of cmd.bindings) {
    const t = resolve(kinds, 'Pod', b.namespace, b.name);
    if (isFailure(t)) {
      results.push(t);
      continue;
    }
    const pod = txn.get(t.key);
    if (!pod) {
      results.push(notFound(t));
      continue;
    }
    if (pod.metadata.uid !== b.uid) {
      results.push(conflict(t, `Precondition failed: UID in precondition: ${b.uid}, UID in object meta: ${pod.metadata.uid ?? ''}`));
      continue;
    }
    const bound = pod.spec?.nodeName;
    if (typeof bound === 'string' && bound !== '') {
      results.push(conflict(t, `pod ${t.namespace}/${t.name} is already assigned to node "${bound}"`));
      continue;
    }
    if (pod.metadata.deletionTimestamp !== undefined) {
      results.push(conflict(t, `pod ${t.namespace}/${t.name} is being deleted`));
      continue;
    }
    const nodeKey = fullKey('Node', '', b.nodeName);
    const node = txn.get(nodeKey);
    if (!node) {
      results.push(failure('NotFound', `nodes "${b.nodeName}" not found`));
      continue;
    }
    if (env.bindCheck) {
      const keys = new Set<string>(env.podKeysOnNode?.(b.nodeName) ?? []);
      txn.podKeysOn(b.nodeName, keys);
      const others: StoredObject[] = [];
      for (const k of keys) {
        const o = txn.get(k);
        if (o && o.spec?.nodeName === b.nodeName) others.push(o);
      }
      const why = env.bindCheck(node, pod, others);
      if (why !== undefined) {
        results.push(conflict(t, `binding to node "${b.nodeName}" no longer fits: ${why}`));
        continue;
      }
    }
    // The binding also records PodScheduled=True, as Kubernetes' binding subresource does.
    const status = { ...(pod.status ?? {}) };
    const conds = Array.isArray(status.conditions) ? (status.conditions as JsonObject[]).filter((c) => c?.type !== 'PodScheduled') : [];
    status.conditions = [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: cmd.now }, ...conds];
    const object = deepFreeze({
      ...pod,
      metadata: { ...pod.metadata, resourceVersion: String(rv) },
      spec: { ...pod.spec, nodeName: b.nodeName },
      status,
    });
    txn.put(t.key, object, event('MODIFIED', t, object, pod, rv));
    results.push({ ok: true, object, prev: pod });
  }
  return { ok: true, results };
}

function batch(cmd: BatchCommand, rv: number, txn: Txn, kinds: KindInfoFn, env: ApplyEnv): Result {
  if (cmd.independent === true) return independentBatch(cmd, rv, txn, kinds, env);
  const child = txn.child();
  const results: Result[] = [];
  const failed: number[] = [];
  cmd.commands.forEach((c, i) => {
    // Every sub-command is tried (a failed one changes nothing) so that the results say
    // everything that is wrong, not only the first thing.
    const r = c.op === 'batch' ? failure('Invalid', 'a batch cannot contain a batch') : applyCommand(c, rv, child, kinds, env);
    results.push(r);
    if (!r.ok) failed.push(i);
  });
  if (failed.length === 0) {
    child.mergeInto(txn);
    return { ok: true, results };
  }
  const first = results[failed[0]!] as Failure;
  return { ok: false, code: first.code, message: `batch command ${failed[0]}: ${first.message}`, results, failed };
}

/** Each sub-command on its own: a failed one changes nothing, the others still apply. */
function independentBatch(cmd: BatchCommand, rv: number, txn: Txn, kinds: KindInfoFn, env: ApplyEnv): Result {
  const results: Result[] = [];
  for (const c of cmd.commands) {
    if (c.op === 'batch') {
      results.push(failure('Invalid', 'a batch cannot contain a batch'));
      continue;
    }
    const child = txn.child();
    const r = applyCommand(c, rv, child, kinds, env);
    if (r.ok) child.mergeInto(txn);
    results.push(r);
  }
  return { ok: true, results };
}
