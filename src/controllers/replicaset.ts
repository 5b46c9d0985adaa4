/**
 * The ReplicaSet controller (Kubernetes' pkg/controller/replicaset): keeps spec.replicas
 * live pods that match the selector, made from the template.
 *
 * Each sync reads the ReplicaSet and its candidate pods from the store, claims them
 * (adopting matching orphans, releasing owned pods that stopped matching), creates or
 * deletes the difference and writes status. Creates and deletes are remembered as
 * expectations until the watch shows them, so a sync that runs before its own writes are
 * visible does not act twice.
 */
import type { Pod, ReplicaSet, ReplicaSetStatus, Condition } from '../api/index.ts';
import { selectorFromLabelSelector, selectorFromSet, type Selector } from '../api/index.ts';
import {
  claimObjects,
  clone,
  ControllerExpectations,
  ControllerIndex,
  controllerRef,
  cryptoRandom,
  formatTime,
  generatedName,
  getControllerOf,
  guarded,
  leaderOnly,
  isAlreadyExists,
  isBeingDeleted,
  isNotFound,
  isPodActive,
  isPodAvailable,
  isPodReady,
  keyOf,
  metaOf,
  msUntilAvailable,
  parseTime,
  podCondition,
  podPhase,
  sameJson,
  slowStartBatch,
  slowStartBatchMany,
  splitKey,
  type RandomSource,
} from './pod-util.ts';
import { WorkQueue } from './queue.ts';
import { WriteError, type Controller, type ControllerContext, type ObjectEvent, type PlainObject } from './types.ts';

export interface ReplicaSetControllerOptions {
  /** Source of pod name suffixes. Default: crypto. */
  random?: RandomSource;
  /** Most pods created or deleted in one sync (Kubernetes' burstReplicas). */
  burstReplicas?: number;
  /** ReplicaSets synced at the same time. */
  concurrency?: number;
}

/**
 * Pods created in one proposal at most. Admission (defaults, validation, encoding) of a
 * proposal's pods runs in one event-loop turn, so this is also how many pods' admission one
 * turn holds the leader's event loop for (slowStartBatch starts as many creates per turn):
 * a slow-start batch larger than this is split, its proposals started a turn apart and all
 * in flight together.
 */
const CREATES_PER_PROPOSAL = 16;

/** Annotation that makes a pod cheaper (lower) or dearer to delete on scale-down. */
export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

interface PodSeen {
  /** The pod as the watch last showed it: the store's current object (the watch is synchronous with apply). */
  obj: PlainObject;
  labels: Record<string, string>;
  deleting: boolean;
  owner: string;
}

export class ReplicaSetController implements Controller {
  readonly name = 'replicaset';
  private ctx!: ControllerContext;
  private queue!: WorkQueue;
  private expectations!: ControllerExpectations;
  private readonly pods = new ControllerIndex();
  private readonly podSeen = new Map<string, PodSeen>();
  /** ReplicaSet uid → key, to route pod events by controller reference. */
  private readonly rsByUid = new Map<string, string>();
  private readonly random: RandomSource;
  private readonly burst: number;
  private readonly concurrency: number;

  constructor(opts: ReplicaSetControllerOptions = {}) {
    this.random = opts.random ?? cryptoRandom;
    this.burst = opts.burstReplicas ?? 500;
    this.concurrency = opts.concurrency ?? 5;
  }

  start(ctx: ControllerContext): void {
    if (ctx.signal.aborted) return;
    this.ctx = { ...ctx, cluster: leaderOnly(ctx.cluster, ctx.signal) };
    this.expectations = new ControllerExpectations(ctx.clock);
    this.queue = new WorkQueue((key) => this.sync(key), {
      clock: ctx.clock,
      concurrency: this.concurrency,
      onError: (key, err, n) => ctx.log.debug(`replicaset ${key}: sync failed (${n}): ${(err as Error)?.message ?? String(err)}`),
    });
    const { cluster } = ctx;
    // List, then watch: both synchronous on the local store, so nothing falls between.
    for (const p of cluster.list('Pod')) this.seePod(p);
    const stopPods = cluster.watch('Pod', guarded(ctx.log, 'replicaset pod watch', (ev: ObjectEvent) => this.onPod(ev)));
    for (const rs of cluster.list('ReplicaSet')) {
      this.rsByUid.set(metaOf(rs).uid ?? '', keyOf(rs));
      this.queue.add(keyOf(rs));
    }
    const stopRS = cluster.watch('ReplicaSet', guarded(ctx.log, 'replicaset watch', (ev: ObjectEvent) => this.onReplicaSet(ev)));
    ctx.signal.addEventListener(
      'abort',
      () => {
        this.queue.stop();
        stopPods();
        stopRS();
      },
      { once: true },
    );
  }

  /** Resolves when no sync is queued or running (for tests). */
  idle(): Promise<void> {
    return this.queue ? this.queue.idle() : Promise.resolve();
  }

  /** Outstanding expectations of a ReplicaSet (for tests). */
  pendingExpectations(key: string): { add: number; del: number } {
    return this.expectations.pending(key);
  }

  // ---- events ----------------------------------------------------------------------------

  private onReplicaSet(ev: ObjectEvent): void {
    const key = keyOf(ev.object);
    const uid = metaOf(ev.object).uid ?? '';
    if (ev.type === 'DELETED') {
      this.rsByUid.delete(uid);
      this.expectations.forget(key);
      return;
    }
    this.rsByUid.set(uid, key);
    this.queue.add(key);
  }

  private seePod(pod: PlainObject): PodSeen | undefined {
    const key = keyOf(pod);
    const before = this.podSeen.get(key);
    this.pods.upsert(pod);
    const m = metaOf(pod);
    this.podSeen.set(key, { obj: pod, labels: m.labels ?? {}, deleting: Boolean(m.deletionTimestamp), owner: getControllerOf(pod)?.uid ?? '' });
    return before;
  }

  private onPod(ev: ObjectEvent): void {
    const pod = ev.object;
    const key = keyOf(pod);
    const ns = metaOf(pod).namespace ?? '';
    if (ev.type === 'DELETED') {
      this.pods.remove(pod);
      this.podSeen.delete(key);
      const rsKey = this.ownerKey(pod);
      if (rsKey) {
        this.expectations.deletionObserved(rsKey, key);
        this.queue.add(rsKey);
      }
      return;
    }
    const before = this.seePod(pod);
    const now = this.podSeen.get(key)!;
    const rsKey = this.ownerKey(pod);
    if (ev.type === 'ADDED' && !now.deleting) {
      if (rsKey) {
        this.expectations.creationObserved(rsKey);
        this.queue.add(rsKey);
      } else {
        this.enqueueMatching(ns, now.labels);
      }
      return;
    }
    // A pod that starts terminating no longer counts: that is the deletion we waited for.
    if (now.deleting && !before?.deleting && rsKey) this.expectations.deletionObserved(rsKey, key);
    if (before && before.owner && before.owner !== now.owner) {
      const old = this.rsByUid.get(before.owner);
      if (old) this.queue.add(old);
    }
    if (rsKey) {
      this.queue.add(rsKey);
      return;
    }
    const labelsChanged = !before || !sameJson(before.labels, now.labels);
    if (labelsChanged || before?.owner !== now.owner) this.enqueueMatching(ns, now.labels);
  }

  private ownerKey(pod: PlainObject): string | undefined {
    const ref = getControllerOf(pod);
    return ref && ref.kind === 'ReplicaSet' ? this.rsByUid.get(ref.uid) : undefined;
  }

  /** An orphan pod may be adopted by every ReplicaSet of its namespace that selects it. */
  private enqueueMatching(namespace: string, labels: Record<string, string>): void {
    for (const rs of this.ctx.cluster.list('ReplicaSet', { namespace })) {
      if (selectorOf(rs)?.matches(labels)) this.queue.add(keyOf(rs));
    }
  }

  // ---- sync ------------------------------------------------------------------------------

  private async sync(key: string): Promise<number | void> {
    const { cluster, clock } = this.ctx;
    const { namespace, name } = splitKey(key);
    const rsObj = cluster.get('ReplicaSet', namespace, name);
    if (!rsObj) {
      this.expectations.forget(key);
      return;
    }
    const rs = rsObj as unknown as ReplicaSet;
    const selector = selectorOf(rsObj);
    if (!selector) {
      this.ctx.log.warn(`replicaset ${key}: invalid selector; not syncing`);
      return;
    }
    const needsSync = this.expectations.satisfied(key);
    const uid = metaOf(rsObj).uid ?? '';
    // The pods it owns and the orphans of its namespace (an object is in one of the two at
    // most), as the watch last showed them: the store's current objects.
    const candidates: PlainObject[] = [];
    for (const keys of [this.pods.ownedBy(uid), this.pods.orphansIn(namespace)]) {
      for (const k of keys) {
        const p = this.podSeen.get(k)?.obj;
        if (p && isPodActive(p)) candidates.push(p);
      }
    }
    const { claimed, errors } = await claimObjects(cluster, rsObj, selector, candidates);
    if (errors.length > 0) throw errors[0];

    let manageErr: unknown;
    if (needsSync && !isBeingDeleted(rsObj)) {
      try {
        await this.manageReplicas(key, rsObj, claimed);
      } catch (e) {
        manageErr = e;
      }
    }
    const now = clock.now();
    const status = calculateStatus(rs, claimed, manageErr, now);
    if (!sameJson(rs.status ?? {}, status)) {
      await cluster.updateStatus({ ...clone(rsObj), status });
    }
    if (manageErr) throw manageErr;
    // A ready pod becomes available minReadySeconds later with no event to say so: come back then.
    const minReady = rs.spec.minReadySeconds ?? 0;
    let next: number | undefined;
    for (const p of claimed) {
      const ms = msUntilAvailable(p, minReady, now);
      if (ms !== undefined && (next === undefined || ms < next)) next = ms;
    }
    return next;
  }

  private async manageReplicas(key: string, rsObj: PlainObject, pods: PlainObject[]): Promise<void> {
    const rs = rsObj as unknown as ReplicaSet;
    const want = rs.spec.replicas ?? 1;
    const diff = pods.length - want;
    if (diff < 0) {
      const n = Math.min(-diff, this.burst);
      this.expectations.expectCreations(key, n);
      // With createMany each slow-start batch is one proposal instead of one per pod.
      const r = this.ctx.cluster.createMany
        ? await slowStartBatchMany(n, 1, (size) => this.createPods(key, rsObj, size))
        : await slowStartBatch(n, 1, () => this.createPod(key, rsObj));
      // Creations never attempted will never be observed.
      if (r.attempted < n) this.expectations.creationObserved(key, n - r.attempted);
      if (r.error) throw r.error;
      return;
    }
    if (diff > 0) {
      const n = Math.min(diff, this.burst);
      const victims = podsToDelete(pods, this.relatedPods(rsObj), n);
      this.expectations.expectDeletions(key, victims.map(keyOf));
      const errors: unknown[] = [];
      await Promise.all(
        victims.map(async (p) => {
          const m = metaOf(p);
          try {
            await this.ctx.cluster.delete('Pod', m.namespace ?? '', m.name ?? '', { uid: m.uid });
            this.ctx.events.event(rsObj, 'Normal', 'SuccessfulDelete', `Deleted pod: ${m.name}`);
          } catch (e) {
            this.expectations.deletionObserved(key, keyOf(p));
            if (!isNotFound(e)) {
              this.ctx.events.event(rsObj, 'Warning', 'FailedDelete', `Error deleting: ${(e as Error).message}`);
              errors.push(e);
            }
          }
        }),
      );
      if (errors.length > 0) throw errors[0];
    }
  }

  /** A new pod from the ReplicaSet's template, with a fresh random name. */
  private newPod(rsObj: PlainObject): PlainObject {
    const rs = rsObj as unknown as ReplicaSet;
    const m = metaOf(rsObj);
    const template = rs.spec.template;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: generatedName(m.name ?? '', this.random),
        namespace: m.namespace,
        labels: { ...(template.metadata?.labels ?? {}) },
        ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
        ...(template.metadata?.finalizers ? { finalizers: [...template.metadata.finalizers] } : {}),
        ownerReferences: [controllerRef(rsObj)],
      },
      spec: clone(template.spec),
    };
  }

  private async createPod(key: string, rsObj: PlainObject): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const pod = this.newPod(rsObj);
      try {
        await this.ctx.cluster.create(pod);
        this.ctx.events.event(rsObj, 'Normal', 'SuccessfulCreate', `Created pod: ${metaOf(pod).name}`);
        return;
      } catch (e) {
        // A name clash with the random suffix: draw another name.
        if (isAlreadyExists(e) && attempt < 3) continue;
        this.createFailed(key, rsObj, e);
        throw e;
      }
    }
  }

  private createFailed(key: string, rsObj: PlainObject, e: unknown): void {
    this.expectations.creationObserved(key);
    this.ctx.events.event(rsObj, 'Warning', 'FailedCreate', `Error creating: ${(e as Error)?.message ?? String(e)}`);
  }

  /**
   * `size` pods through createMany, CREATES_PER_PROPOSAL to a proposal. Resolves with one
   * outcome per pod (undefined: created, else its error), each handled exactly as
   * createPod handles its one: a name clash draws another name (up to three times), a
   * failure is an expected creation that will never be observed, and a FailedCreate event.
   */
  private async createPods(key: string, rsObj: PlainObject, size: number): Promise<unknown[]> {
    const outcomes: unknown[] = new Array(size).fill(undefined);
    const chunks: Promise<void>[] = [];
    for (let from = 0; from < size; from += CREATES_PER_PROPOSAL) {
      // Admission runs synchronously when a proposal starts: one proposal's worth per turn.
      if (from > 0) await new Promise<void>((r) => setImmediate(r));
      const slots = Array.from({ length: Math.min(CREATES_PER_PROPOSAL, size - from) }, (_, i) => from + i);
      const chunk = this.createChunk(key, rsObj, slots, outcomes);
      // Handled now as well: a chunk that fails while later ones are still being started
      // must not be an unhandled rejection before Promise.all below looks at it.
      chunk.catch(() => {});
      chunks.push(chunk);
    }
    await Promise.all(chunks);
    return outcomes;
  }

  private async createChunk(key: string, rsObj: PlainObject, slots: number[], outcomes: unknown[]): Promise<void> {
    const { cluster } = this.ctx;
    let pending = slots;
    for (let attempt = 0; pending.length > 0; attempt++) {
      const pods = pending.map(() => this.newPod(rsObj));
      let results: readonly unknown[];
      try {
        results = await cluster.createMany!(pods);
      } catch (e) {
        // The proposal failed as a whole: every pod of it failed as its own create would have.
        results = pods.map(() => e);
      }
      const retry: number[] = [];
      for (let j = 0; j < pending.length; j++) {
        const r = j < results.length ? results[j] : new WriteError('Unknown', 'createMany returned no result for this pod');
        if (!(r instanceof Error)) {
          this.ctx.events.event(rsObj, 'Normal', 'SuccessfulCreate', `Created pod: ${metaOf(pods[j]!).name}`);
          continue;
        }
        // A name clash with the random suffix: draw another name.
        if (isAlreadyExists(r) && attempt < 3) {
          retry.push(pending[j]!);
          continue;
        }
        this.createFailed(key, rsObj, r);
        outcomes[pending[j]!] = r;
      }
      pending = retry;
    }
  }

  /**
   * Pods of every ReplicaSet with the same controller (a Deployment's old and new ones):
   * scale-down prefers pods on nodes crowded with their relatives.
   */
  private relatedPods(rsObj: PlainObject): PlainObject[] {
    const { cluster } = this.ctx;
    const ns = metaOf(rsObj).namespace ?? '';
    const owner = getControllerOf(rsObj)?.uid;
    const sets = owner
      ? cluster.list('ReplicaSet', { namespace: ns }).filter((r) => getControllerOf(r)?.uid === owner)
      : [rsObj];
    const out: PlainObject[] = [];
    for (const r of sets) {
      for (const k of this.pods.ownedBy(metaOf(r).uid ?? '')) {
        const p = cluster.get('Pod', ns, splitKey(k).name);
        if (p && isPodActive(p)) out.push(p);
      }
    }
    return out;
  }
}

function selectorOf(rs: PlainObject): Selector | undefined {
  try {
    return selectorFromLabelSelector((rs as unknown as ReplicaSet).spec?.selector);
  } catch {
    return undefined;
  }
}

// ---- status --------------------------------------------------------------------------------

/** The status of `rs` given its claimed live pods (Kubernetes' calculateStatus). */
export function calculateStatus(rs: ReplicaSet, pods: readonly PlainObject[], manageErr: unknown, now: number): ReplicaSetStatus {
  const templateLabels = selectorFromSet(rs.spec.template.metadata?.labels ?? {});
  const minReady = rs.spec.minReadySeconds ?? 0;
  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  for (const p of pods) {
    if (templateLabels.matches(metaOf(p).labels ?? {})) fullyLabeled++;
    if (isPodReady(p)) {
      ready++;
      if (isPodAvailable(p, minReady, now)) available++;
    }
  }
  const status: ReplicaSetStatus = {
    replicas: pods.length,
    fullyLabeledReplicas: fullyLabeled,
    readyReplicas: ready,
    availableReplicas: available,
    observedGeneration: metaOf(rs as unknown as PlainObject).generation ?? 0,
  };
  let conditions = (rs.status?.conditions ?? []).filter((c) => c.type !== 'ReplicaFailure');
  const failure = (rs.status?.conditions ?? []).find((c) => c.type === 'ReplicaFailure');
  if (manageErr) {
    const want = rs.spec.replicas ?? 1;
    const reason = pods.length < want ? 'FailedCreate' : 'FailedDelete';
    const cond: Condition = failure ?? { type: 'ReplicaFailure', status: 'True', reason, message: (manageErr as Error)?.message ?? String(manageErr), lastTransitionTime: formatTime(now) };
    conditions = [...conditions, cond];
  }
  if (conditions.length > 0) status.conditions = conditions;
  return status;
}

// ---- scale-down order ---------------------------------------------------------------------------

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function restarts(pod: PlainObject): number {
  let max = 0;
  for (const c of (pod as Pod).status?.containerStatuses ?? []) max = Math.max(max, c.restartCount ?? 0);
  return max;
}

function deletionCost(pod: PlainObject): number {
  const v = metaOf(pod).annotations?.[POD_DELETION_COST];
  const n = v === undefined ? 0 : Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : 0;
}

/**
 * The `n` pods to delete first, in Kubernetes' order (ActivePodsWithRanks): unscheduled
 * before scheduled, Pending before Unknown before Running, not ready before ready, lower
 * deletion cost first, pods on nodes crowded with related pods first, the most recently
 * ready first, more restarts first, newer before older.
 */
export function podsToDelete(pods: readonly PlainObject[], related: readonly PlainObject[], n: number): PlainObject[] {
  if (n >= pods.length) return [...pods];
  const onNode = new Map<string, number>();
  for (const p of related) {
    const node = (p as Pod).spec?.nodeName;
    if (node) onNode.set(node, (onNode.get(node) ?? 0) + 1);
  }
  const rank = (p: PlainObject) => {
    const node = (p as Pod).spec?.nodeName;
    return node ? (onNode.get(node) ?? 0) : 0;
  };
  return [...pods].sort((a, b) => comparePodsForDeletion(a, b, rank)).slice(0, n);
}

export function comparePodsForDeletion(a: PlainObject, b: PlainObject, rank: (p: PlainObject) => number = () => 0): number {
  const na = (a as Pod).spec?.nodeName ?? '';
  const nb = (b as Pod).spec?.nodeName ?? '';
  if ((na === '') !== (nb === '')) return na === '' ? -1 : 1;
  const pa = PHASE_RANK[podPhase(a)] ?? 0;
  const pb = PHASE_RANK[podPhase(b)] ?? 0;
  if (pa !== pb) return pa - pb;
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return ra ? 1 : -1;
  const ca = deletionCost(a);
  const cb = deletionCost(b);
  if (ca !== cb) return ca - cb;
  const ka = rank(a);
  const kb = rank(b);
  if (ka !== kb) return kb - ka;
  if (ra && rb) {
    const ta = parseTime(podCondition(a, 'Ready')?.lastTransitionTime) ?? Infinity;
    const tb = parseTime(podCondition(b, 'Ready')?.lastTransitionTime) ?? Infinity;
    if (ta !== tb) return tb - ta > 0 ? 1 : -1;
  }
  const xa = restarts(a);
  const xb = restarts(b);
  if (xa !== xb) return xb - xa;
  const ta = parseTime(metaOf(a).creationTimestamp) ?? Infinity;
  const tb = parseTime(metaOf(b).creationTimestamp) ?? Infinity;
  if (ta !== tb) return tb > ta ? 1 : -1;
  const sa = metaOf(a).name ?? '';
  const sb = metaOf(b).name ?? '';
  return sa < sb ? 1 : sa > sb ? -1 : 0;
}
