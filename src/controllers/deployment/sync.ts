/**
 * One sync of one Deployment: the operations the rollout strategies are made of (finding
 * or creating the new ReplicaSet and keeping revisions, scaling a ReplicaSet, scaling
 * proportionally, cleaning up history, writing status). Kubernetes' deployment
 * controller's sync.go, over the `Cluster` interface.
 *
 * The deployment and its ReplicaSets are mutable copies of what the store had when the
 * sync began; every write is conditional on the copy's resourceVersion and the copy is
 * replaced by what the store returns, so a later write in the same sync carries the
 * version it just made, and a write racing someone else's fails and the sync retries.
 */
import type { Deployment, DeploymentStatus, ReplicaSet } from '../../api/index.ts';
import { clone, controllerRef, getControllerOf, isAlreadyExists, isNotFound, metaOf, sameJson } from '../pod-util.ts';
import type { ControllerContext, PlainObject } from '../types.ts';
import {
  calculateStatus,
  FAILED_RS_CREATE_REASON,
  FOUND_NEW_RS_REASON,
  getCondition,
  hasProgressDeadline,
  newCondition,
  NEW_RS_REASON,
  PAUSED_REASON,
  PROGRESSING,
  removeCondition,
  REPLICA_FAILURE,
  RESUMED_REASON,
  setCondition,
  stuckRequeueMs,
  TIMED_OUT_REASON,
  withRolloutProgress,
} from './status.ts';
import {
  activeReplicaSets,
  actualReplicaCount,
  byCreation,
  byRevision,
  computeHash,
  desiredReplicasAnnotation,
  equalIgnoreHash,
  isRollingUpdate,
  isSaturated,
  maxRevision,
  maxSurge,
  newRSNewReplicas,
  POD_TEMPLATE_HASH_LABEL,
  proportionalSizes,
  replicasAnnotationsNeedUpdate,
  revisionOf,
  REVISION_ANNOTATION,
  setDeploymentRevision,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  specReplicas,
} from './util.ts';

const asPlain = (o: Deployment | ReplicaSet): PlainObject => o as unknown as PlainObject;

export class DeploymentSync {
  constructor(
    readonly ctx: ControllerContext,
    /** The deployment being synced (a mutable copy, kept current with our own writes). */
    readonly d: Deployment,
  ) {}

  get now(): number {
    return this.ctx.clock.now();
  }

  get replicas(): number {
    return this.d.spec.replicas ?? 1;
  }

  private event(type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.ctx.events.event(asPlain(this.d), type, reason, message);
  }

  // ---- writes -------------------------------------------------------------------------------

  /** Replace the copy's content with what the store now has after our write. */
  private static adopt<T extends object>(target: T, stored: PlainObject): void {
    const fresh = clone(stored) as unknown as Record<string, unknown>;
    for (const k of Object.keys(target)) if (!(k in fresh)) delete (target as Record<string, unknown>)[k];
    Object.assign(target, fresh);
  }

  async updateDeployment(): Promise<void> {
    const stored = await this.ctx.cluster.update(clone(asPlain(this.d)));
    DeploymentSync.adopt(this.d, stored);
  }

  async updateDeploymentStatus(status: DeploymentStatus): Promise<void> {
    const stored = await this.ctx.cluster.updateStatus({ ...clone(asPlain(this.d)), status });
    DeploymentSync.adopt(this.d, stored);
  }

  async updateReplicaSet(rs: ReplicaSet): Promise<void> {
    const stored = await this.ctx.cluster.update(clone(asPlain(rs)));
    DeploymentSync.adopt(rs, stored);
  }

  // ---- the new ReplicaSet and revisions ------------------------------------------------------------

  /** The oldest ReplicaSet whose template is the deployment's (there can be more after a crash between writes). */
  findNewReplicaSet(rsList: readonly ReplicaSet[]): ReplicaSet | undefined {
    return [...rsList].sort(byCreation).find((rs) => equalIgnoreHash(rs.spec.template, this.d.spec.template));
  }

  /**
   * Split the ReplicaSets into the new one and the old ones, bringing revisions up to
   * date; with `create`, make the new one when there is none (getAllReplicaSetsAndSyncRevision).
   */
  async getAllReplicaSetsAndSyncRevision(rsList: readonly ReplicaSet[], create: boolean): Promise<{ newRS: ReplicaSet | undefined; oldRSs: ReplicaSet[] }> {
    const found = this.findNewReplicaSet(rsList);
    const oldRSs = rsList.filter((rs) => rs !== found);
    const newRS = await this.getNewReplicaSet(found, oldRSs, create);
    return { newRS, oldRSs };
  }

  private async getNewReplicaSet(existing: ReplicaSet | undefined, oldRSs: readonly ReplicaSet[], create: boolean): Promise<ReplicaSet | undefined> {
    const d = this.d;
    const newRevision = maxRevision(oldRSs.map(asPlain)) + 1;
    if (existing) {
      const copy = clone(existing);
      const annotationsChanged = setNewReplicaSetAnnotations(d, copy, newRevision, true);
      const minReadyChanged = (copy.spec.minReadySeconds ?? 0) !== (d.spec.minReadySeconds ?? 0);
      if (annotationsChanged || minReadyChanged) {
        copy.spec.minReadySeconds = d.spec.minReadySeconds ?? 0;
        const stored = await this.ctx.cluster.update(asPlain(copy));
        DeploymentSync.adopt(existing, stored);
      }
      if (setDeploymentRevision(d, existing.metadata.annotations?.[REVISION_ANNOTATION] ?? '')) await this.updateDeployment();
      // Progress is measured from when a new ReplicaSet is first seen.
      if (hasProgressDeadline(d) && !getCondition(d.status, PROGRESSING)) {
        const status = clone(d.status ?? {});
        setCondition(status, newCondition(PROGRESSING, 'True', FOUND_NEW_RS_REASON, `Found new replica set "${existing.metadata.name}"`, this.now));
        await this.updateDeploymentStatus(status);
      }
      return existing;
    }
    if (!create) return undefined;

    const hash = computeHash(d.spec.template, d.status?.collisionCount);
    const template = clone(d.spec.template);
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash } };
    const selector = clone(d.spec.selector);
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
    const name = `${d.metadata.name}-${hash}`;
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace: d.metadata.namespace,
        labels: { ...template.metadata.labels! },
        ownerReferences: [controllerRef(asPlain(d))],
      },
      spec: { replicas: 0, minReadySeconds: d.spec.minReadySeconds ?? 0, selector, template },
    };
    rs.spec.replicas = newRSNewReplicas(d, [...oldRSs, rs], rs);
    setNewReplicaSetAnnotations(d, rs, newRevision, false);

    let created: ReplicaSet;
    let alreadyExisted = false;
    try {
      created = clone(await this.ctx.cluster.create(asPlain(rs))) as unknown as ReplicaSet;
    } catch (e) {
      if (!isAlreadyExists(e)) {
        if (hasProgressDeadline(d)) {
          const status = clone(d.status ?? {});
          setCondition(status, newCondition(PROGRESSING, 'False', FAILED_RS_CREATE_REASON, `Failed to create new replica set "${name}": ${(e as Error).message}`, this.now));
          await this.updateDeploymentStatus(status).catch(() => {});
        }
        throw e;
      }
      const other = this.ctx.cluster.get('ReplicaSet', d.metadata.namespace ?? '', name) as unknown as ReplicaSet | undefined;
      if (other && getControllerOf(asPlain(other))?.uid === d.metadata.uid && equalIgnoreHash(other.spec.template, d.spec.template)) {
        // Ours, only not yet among what this sync read.
        created = clone(other);
        alreadyExisted = true;
      } else {
        // Another template hashed to the same name: move the hash and retry.
        const status = clone(d.status ?? {});
        status.collisionCount = (status.collisionCount ?? 0) + 1;
        await this.updateDeploymentStatus(status);
        throw e;
      }
    }
    if (!alreadyExisted && specReplicas(created) > 0) {
      this.event('Normal', 'ScalingReplicaSet', `Scaled up replica set ${name} to ${specReplicas(created)}`);
    }
    if (setDeploymentRevision(d, String(newRevision))) await this.updateDeployment();
    if (!alreadyExisted && hasProgressDeadline(d)) {
      const status = clone(d.status ?? {});
      setCondition(status, newCondition(PROGRESSING, 'True', NEW_RS_REASON, `Created new replica set "${name}"`, this.now));
      await this.updateDeploymentStatus(status);
    }
    return created;
  }

  // ---- scaling ---------------------------------------------------------------------------------

  /** Scale and say so in an event; false when it already has that size. */
  async scaleReplicaSetAndRecordEvent(rs: ReplicaSet, newScale: number): Promise<boolean> {
    if (specReplicas(rs) === newScale) return false;
    return this.scaleReplicaSet(rs, newScale, specReplicas(rs) < newScale ? 'up' : 'down');
  }

  /** Set a ReplicaSet's size and its desired/max-replicas annotations; true when the size changed. */
  async scaleReplicaSet(rs: ReplicaSet, newScale: number, op: string): Promise<boolean> {
    const sizeChanged = specReplicas(rs) !== newScale;
    const max = this.replicas + maxSurge(this.d);
    if (!sizeChanged && !replicasAnnotationsNeedUpdate(rs, this.replicas, max)) return false;
    const copy = clone(rs);
    copy.spec.replicas = newScale;
    setReplicasAnnotations(copy, this.replicas, max);
    const stored = await this.ctx.cluster.update(asPlain(copy));
    DeploymentSync.adopt(rs, stored);
    if (sizeChanged) this.event('Normal', 'ScalingReplicaSet', `Scaled ${op} replica set ${rs.metadata.name} to ${newScale}`);
    return sizeChanged;
  }

  /**
   * Resize for a changed spec.replicas (Kubernetes' scale): one active ReplicaSet takes
   * the whole size; with several (mid-rollout) each gets a share in proportion to its size.
   */
  async scale(newRS: ReplicaSet | undefined, oldRSs: readonly ReplicaSet[]): Promise<void> {
    const d = this.d;
    const active = activeReplicaSets([newRS, ...oldRSs]);
    let only: ReplicaSet | undefined;
    if (active.length === 0) only = newRS ?? [...oldRSs].sort(byCreation).at(-1);
    else if (active.length === 1) only = active[0];
    if (only) {
      if (specReplicas(only) !== this.replicas) await this.scaleReplicaSetAndRecordEvent(only, this.replicas);
      return;
    }
    // The new ReplicaSet is done: the old ones go to zero.
    if (isSaturated(d, newRS)) {
      for (const rs of activeReplicaSets(oldRSs)) await this.scaleReplicaSetAndRecordEvent(rs, 0);
      return;
    }
    if (!isRollingUpdate(d)) return;
    const sizes = proportionalSizes(d, active);
    for (const rs of active) {
      const size = sizes.get(rs.metadata.name ?? '') ?? specReplicas(rs);
      await this.scaleReplicaSet(rs, size, size > specReplicas(rs) ? 'up' : 'down');
    }
  }

  /** A scaling event: some active ReplicaSet was sized for another deployment size. */
  async isScalingEvent(rsList: readonly ReplicaSet[]): Promise<boolean> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(rsList, false);
    for (const rs of activeReplicaSets([newRS, ...oldRSs])) {
      const desired = desiredReplicasAnnotation(rs);
      if (desired !== undefined && desired !== this.replicas) return true;
    }
    return false;
  }

  /** Scaling only, no rollout (paused deployments and resizes). */
  async sync(rsList: readonly ReplicaSet[]): Promise<number | undefined> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(rsList, false);
    await this.scale(newRS, oldRSs);
    if (this.d.spec.paused && !rollbackRequest(this.d)) await this.cleanupDeployment(oldRSs);
    await this.syncDeploymentStatus(withNew(oldRSs, newRS), newRS);
    return undefined;
  }

  /** A deployment being deleted: only its status. */
  async syncStatusOnly(rsList: readonly ReplicaSet[]): Promise<undefined> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(rsList, false);
    await this.syncDeploymentStatus(withNew(oldRSs, newRS), newRS);
    return undefined;
  }

  // ---- history ------------------------------------------------------------------------------------

  /** Delete the oldest idle ReplicaSets beyond revisionHistoryLimit. */
  async cleanupDeployment(oldRSs: readonly ReplicaSet[]): Promise<void> {
    const limit = this.d.spec.revisionHistoryLimit;
    if (limit === undefined || limit === null) return;
    const cleanable = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
    const diff = cleanable.length - limit;
    if (diff <= 0) return;
    const sorted = [...cleanable].sort(byRevision);
    for (let i = 0; i < diff; i++) {
      const rs = sorted[i]!;
      // Only a ReplicaSet with no pods left and a status that saw its last change goes.
      if ((rs.status?.replicas ?? 0) !== 0 || specReplicas(rs) !== 0 || (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)) continue;
      try {
        await this.ctx.cluster.delete('ReplicaSet', rs.metadata.namespace ?? '', rs.metadata.name ?? '', { uid: rs.metadata.uid });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
  }

  // ---- status -----------------------------------------------------------------------------------

  async syncDeploymentStatus(all: readonly ReplicaSet[], newRS: ReplicaSet | undefined): Promise<void> {
    const status = calculateStatus(all, newRS, this.d, this.now);
    if (sameJson(this.d.status ?? {}, status)) return;
    await this.updateDeploymentStatus(status);
  }

  /** Status with the Progressing and ReplicaFailure conditions; returns when to look again if the rollout may get stuck. */
  async syncRolloutStatus(all: readonly ReplicaSet[], newRS: ReplicaSet | undefined): Promise<number | undefined> {
    const now = this.now;
    const status = withRolloutProgress(this.d, calculateStatus(all, newRS, this.d, now), newRS, now);
    const failure = [newRS, ...all].map((rs) => rs?.status?.conditions?.find((c) => c.type === REPLICA_FAILURE)).find((c) => c !== undefined);
    if (failure) setCondition(status, newCondition(REPLICA_FAILURE, failure.status, failure.reason ?? '', failure.message ?? '', now));
    else removeCondition(status, REPLICA_FAILURE);
    if (!sameJson(this.d.status ?? {}, status)) await this.updateDeploymentStatus(status);
    return stuckRequeueMs(this.d, status, now);
  }

  /** Progressing=Unknown DeploymentPaused while paused, DeploymentResumed once resumed (checkPausedConditions). */
  async checkPausedConditions(): Promise<void> {
    const d = this.d;
    if (!hasProgressDeadline(d)) return;
    const cond = getCondition(d.status, PROGRESSING);
    if (cond?.reason === TIMED_OUT_REASON) return;
    const pausedCond = cond?.reason === PAUSED_REASON;
    const status = clone(d.status ?? {});
    if (d.spec.paused && !pausedCond) {
      setCondition(status, newCondition(PROGRESSING, 'Unknown', PAUSED_REASON, 'Deployment is paused', this.now));
    } else if (!d.spec.paused && pausedCond) {
      setCondition(status, newCondition(PROGRESSING, 'Unknown', RESUMED_REASON, 'Deployment is resumed', this.now));
    } else {
      return;
    }
    await this.updateDeploymentStatus(status);
  }

  /** Pods of the old ReplicaSets still exist (Recreate waits for them to be gone). */
  oldPodsRunning(newRS: ReplicaSet | undefined, oldRSs: readonly ReplicaSet[], pods: readonly PlainObject[]): boolean {
    if (actualReplicaCount(oldRSs) > 0) return true;
    const oldUids = new Set(oldRSs.map((rs) => rs.metadata.uid));
    for (const p of pods) {
      const owner = getControllerOf(p)?.uid;
      if (!owner || owner === newRS?.metadata.uid || !oldUids.has(owner)) continue;
      const phase = (p.status as { phase?: string } | undefined)?.phase;
      if (phase !== 'Succeeded' && phase !== 'Failed') return true;
    }
    return false;
  }

  /** Revision of the deployment (annotation), for messages. */
  get revision(): number {
    return revisionOf(asPlain(this.d));
  }

  get key(): string {
    return `${metaOf(asPlain(this.d)).namespace}/${metaOf(asPlain(this.d)).name}`;
  }
}

/** `oldRSs` plus the new one when there is one. */
export function withNew(oldRSs: readonly ReplicaSet[], newRS: ReplicaSet | undefined): ReplicaSet[] {
  return newRS ? [...oldRSs, newRS] : [...oldRSs];
}

/** The legacy rollback request: spec.rollbackTo (extensions/v1beta1) or its annotation form. */
export function rollbackRequest(d: Deployment): { revision: number } | undefined {
  const spec = d.spec as { rollbackTo?: { revision?: number } };
  if (spec.rollbackTo) return { revision: spec.rollbackTo.revision ?? 0 };
  const ann = d.metadata.annotations?.['deprecated.deployment.rollback.to'];
  if (ann === undefined) return undefined;
  const n = Number.parseInt(ann, 10);
  return { revision: Number.isFinite(n) && n > 0 ? n : 0 };
}
