/**
 * The Deployment controller (Kubernetes' pkg/controller/deployment): a Deployment owns
 * ReplicaSets named `<deployment>-<pod-template-hash>`, one per template it has had, and
 * moves pods from the old ones to the new one by its strategy. Watches Deployments,
 * ReplicaSets (routed to their controlling Deployment) and, for Recreate, pod deletions.
 */
import type { Deployment, ReplicaSet } from '../../api/index.ts';
import { selectorFromLabelSelector, type Selector } from '../../api/index.ts';
import { claimObjects, clone, ControllerIndex, getControllerOf, guarded, leaderOnly, keyOf, metaOf, sameJson, splitKey } from '../pod-util.ts';
import { WorkQueue } from '../queue.ts';
import type { Controller, ControllerContext, ObjectEvent, PlainObject } from '../types.ts';
import { rolloutRecreate } from './recreate.ts';
import { rollbackLegacy } from './rollback.ts';
import { rolloutRolling } from './rolling.ts';
import { DeploymentSync, rollbackRequest } from './sync.ts';

export interface DeploymentControllerOptions {
  /** Deployments synced at the same time. */
  concurrency?: number;
}

interface Seen {
  labels: Record<string, string>;
  owner: string;
}

export class DeploymentController implements Controller {
  readonly name = 'deployment';
  private ctx!: ControllerContext;
  private queue!: WorkQueue;
  private readonly replicaSets = new ControllerIndex();
  private readonly rsSeen = new Map<string, Seen>();
  /** Deployment uid → key. */
  private readonly byUid = new Map<string, string>();
  private readonly concurrency: number;

  constructor(opts: DeploymentControllerOptions = {}) {
    this.concurrency = opts.concurrency ?? 5;
  }

  start(ctx: ControllerContext): void {
    if (ctx.signal.aborted) return;
    this.ctx = { ...ctx, cluster: leaderOnly(ctx.cluster, ctx.signal) };
    this.queue = new WorkQueue((key) => this.sync(key), {
      clock: ctx.clock,
      concurrency: this.concurrency,
      onError: (key, err, n) => ctx.log.debug(`deployment ${key}: sync failed (${n}): ${(err as Error)?.message ?? String(err)}`),
    });
    const { cluster } = ctx;
    for (const rs of cluster.list('ReplicaSet')) this.seeReplicaSet(rs);
    const stops = [
      cluster.watch('ReplicaSet', guarded(ctx.log, 'deployment replicaset watch', (ev: ObjectEvent) => this.onReplicaSet(ev))),
      cluster.watch('Pod', guarded(ctx.log, 'deployment pod watch', (ev: ObjectEvent) => this.onPod(ev))),
    ];
    for (const d of cluster.list('Deployment')) {
      this.byUid.set(metaOf(d).uid ?? '', keyOf(d));
      this.queue.add(keyOf(d));
    }
    stops.push(cluster.watch('Deployment', guarded(ctx.log, 'deployment watch', (ev: ObjectEvent) => this.onDeployment(ev))));
    ctx.signal.addEventListener(
      'abort',
      () => {
        this.queue.stop();
        for (const stop of stops) stop();
      },
      { once: true },
    );
  }

  /** Resolves when no sync is queued or running (for tests). */
  idle(): Promise<void> {
    return this.queue ? this.queue.idle() : Promise.resolve();
  }

  // ---- events --------------------------------------------------------------------------------

  private onDeployment(ev: ObjectEvent): void {
    const uid = metaOf(ev.object).uid ?? '';
    if (ev.type === 'DELETED') {
      this.byUid.delete(uid);
      return;
    }
    this.byUid.set(uid, keyOf(ev.object));
    this.queue.add(keyOf(ev.object));
  }

  private seeReplicaSet(rs: PlainObject): Seen | undefined {
    const key = keyOf(rs);
    const before = this.rsSeen.get(key);
    this.replicaSets.upsert(rs);
    this.rsSeen.set(key, { labels: metaOf(rs).labels ?? {}, owner: getControllerOf(rs)?.uid ?? '' });
    return before;
  }

  private onReplicaSet(ev: ObjectEvent): void {
    const rs = ev.object;
    const key = keyOf(rs);
    if (ev.type === 'DELETED') {
      this.replicaSets.remove(rs);
      this.rsSeen.delete(key);
      this.enqueueOwner(rs);
      return;
    }
    const before = this.seeReplicaSet(rs);
    const now = this.rsSeen.get(key)!;
    if (before?.owner && before.owner !== now.owner) {
      const old = this.byUid.get(before.owner);
      if (old) this.queue.add(old);
    }
    if (this.enqueueOwner(rs)) return;
    if (!before || before.owner !== now.owner || !sameJson(before.labels, now.labels)) {
      // An orphan: every deployment that selects it may adopt it.
      const ns = metaOf(rs).namespace ?? '';
      for (const d of this.ctx.cluster.list('Deployment', { namespace: ns })) {
        if (selectorOf(d)?.matches(now.labels)) this.queue.add(keyOf(d));
      }
    }
  }

  private enqueueOwner(o: PlainObject): boolean {
    const ref = getControllerOf(o);
    if (!ref || ref.kind !== 'Deployment') return false;
    const key = this.byUid.get(ref.uid);
    if (key) this.queue.add(key);
    return Boolean(key);
  }

  /** Recreate waits for old pods to be gone; their deletion is what lets it go on. */
  private onPod(ev: ObjectEvent): void {
    if (ev.type !== 'DELETED') return;
    const ref = getControllerOf(ev.object);
    if (!ref || ref.kind !== 'ReplicaSet') return;
    const ns = metaOf(ev.object).namespace ?? '';
    const rs = this.ctx.cluster.get('ReplicaSet', ns, ref.name);
    if (!rs || metaOf(rs).uid !== ref.uid) return;
    const dref = getControllerOf(rs);
    if (!dref || dref.kind !== 'Deployment') return;
    const d = this.ctx.cluster.get('Deployment', ns, dref.name) as unknown as Deployment | undefined;
    if (d && d.metadata.uid === dref.uid && d.spec.strategy?.type === 'Recreate') this.queue.add(keyOf(d as unknown as PlainObject));
  }

  // ---- sync --------------------------------------------------------------------------------------

  private async sync(key: string): Promise<number | void> {
    const { cluster } = this.ctx;
    const { namespace, name } = splitKey(key);
    const obj = cluster.get('Deployment', namespace, name);
    if (!obj) return;
    const d = clone(obj) as unknown as Deployment;
    const s = new DeploymentSync(this.ctx, d);
    const sel = d.spec.selector ?? {};
    if (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0) {
      this.ctx.events.event(obj, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      const gen = d.metadata.generation ?? 0;
      if ((d.status?.observedGeneration ?? 0) < gen) await s.updateDeploymentStatus({ ...clone(d.status ?? {}), observedGeneration: gen });
      return;
    }
    const selector = selectorOf(obj);
    if (!selector) return;

    const uid = d.metadata.uid ?? '';
    const candidates: PlainObject[] = [];
    for (const k of new Set([...this.replicaSets.ownedBy(uid), ...this.replicaSets.orphansIn(namespace)])) {
      const rs = cluster.get('ReplicaSet', namespace, splitKey(k).name);
      if (rs) candidates.push(rs);
    }
    const { claimed, errors } = await claimObjects(cluster, obj, selector, candidates);
    if (errors.length > 0) throw errors[0];
    const rsList = claimed.map((rs) => clone(rs) as unknown as ReplicaSet);

    if (d.metadata.deletionTimestamp) return s.syncStatusOnly(rsList);
    await s.checkPausedConditions();
    if (d.spec.paused) return s.sync(rsList);
    const rollback = rollbackRequest(d);
    if (rollback) return rollbackLegacy(s, rsList, rollback.revision);
    if (await s.isScalingEvent(rsList)) return s.sync(rsList);
    if (d.spec.strategy?.type === 'Recreate') {
      return rolloutRecreate(s, rsList, () => cluster.list('Pod', { namespace }).filter((p) => selector.matches(metaOf(p).labels ?? {})));
    }
    return rolloutRolling(s, rsList);
  }
}

function selectorOf(d: PlainObject): Selector | undefined {
  try {
    return selectorFromLabelSelector((d as unknown as Deployment | ReplicaSet).spec?.selector);
  } catch {
    return undefined;
  }
}
