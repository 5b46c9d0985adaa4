/**
 * Deployment status and conditions (Kubernetes' deployment/util conditions and the
 * controller's calculateStatus): replica counts summed from the ReplicaSets, Available
 * from maxUnavailable, and the Progressing condition that tells a rollout that is moving
 * from one that is stuck.
 */
import type { Condition, Deployment, DeploymentStatus, ReplicaSet } from '../../api/index.ts';
import { formatTime, metaOf, parseTime } from '../pod-util.ts';
import type { PlainObject } from '../types.ts';
import { actualReplicaCount, availableReplicaCount, maxUnavailable, readyReplicaCount, replicaCount } from './util.ts';

export const AVAILABLE = 'Available';
export const PROGRESSING = 'Progressing';
export const REPLICA_FAILURE = 'ReplicaFailure';

// Reasons of the conditions, as Kubernetes names them.
export const MIN_REPLICAS_AVAILABLE = 'MinimumReplicasAvailable';
export const MIN_REPLICAS_UNAVAILABLE = 'MinimumReplicasUnavailable';
export const NEW_RS_REASON = 'NewReplicaSetCreated';
export const FOUND_NEW_RS_REASON = 'FoundNewReplicaSet';
export const RS_UPDATED_REASON = 'ReplicaSetUpdated';
export const NEW_RS_AVAILABLE_REASON = 'NewReplicaSetAvailable';
export const TIMED_OUT_REASON = 'ProgressDeadlineExceeded';
export const PAUSED_REASON = 'DeploymentPaused';
export const RESUMED_REASON = 'DeploymentResumed';
export const FAILED_RS_CREATE_REASON = 'ReplicaSetCreateError';

export function getCondition(status: DeploymentStatus | undefined, type: string): Condition | undefined {
  return (status?.conditions ?? []).find((c) => c.type === type);
}

export function newCondition(type: string, status: Condition['status'], reason: string, message: string, now: number): Condition {
  const t = formatTime(now);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

/**
 * Set a condition (SetDeploymentCondition): the same status and reason leave it as it is
 * (its times included); the same status keeps the lastTransitionTime.
 */
export function setCondition(status: DeploymentStatus, cond: Condition): void {
  const current = getCondition(status, cond.type);
  if (current && current.status === cond.status && current.reason === cond.reason) return;
  const next = { ...cond };
  if (current && current.status === cond.status && current.lastTransitionTime) next.lastTransitionTime = current.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== cond.type), next];
}

export function removeCondition(status: DeploymentStatus, type: string): void {
  const rest = (status.conditions ?? []).filter((c) => c.type !== type);
  if (rest.length > 0) status.conditions = rest;
  else delete status.conditions;
}

export function hasProgressDeadline(d: Deployment): boolean {
  const s = d.spec.progressDeadlineSeconds;
  return s !== undefined && s !== null && s < 2147483647;
}

/** The status the ReplicaSets add up to, with the Available condition (calculateStatus). */
export function calculateStatus(all: readonly ReplicaSet[], newRS: ReplicaSet | undefined, d: Deployment, now: number): DeploymentStatus {
  const available = availableReplicaCount(all);
  const total = replicaCount(all);
  const status: DeploymentStatus = {
    observedGeneration: metaOf(d as unknown as PlainObject).generation ?? 0,
    replicas: actualReplicaCount(all),
    updatedReplicas: actualReplicaCount(newRS ? [newRS] : []),
    readyReplicas: readyReplicaCount(all),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, total - available),
  };
  if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;
  if (d.status?.conditions?.length) status.conditions = d.status.conditions.map((c) => ({ ...c }));
  const replicas = d.spec.replicas ?? 1;
  if (available >= replicas - maxUnavailable(d)) {
    setCondition(status, newCondition(AVAILABLE, 'True', MIN_REPLICAS_AVAILABLE, 'Deployment has minimum availability.', now));
  } else {
    setCondition(status, newCondition(AVAILABLE, 'False', MIN_REPLICAS_UNAVAILABLE, 'Deployment does not have minimum availability.', now));
  }
  return status;
}

/** Every replica is updated and available, and the status is of the current generation. */
export function deploymentComplete(d: Deployment, s: DeploymentStatus): boolean {
  const replicas = d.spec.replicas ?? 1;
  return (
    (s.updatedReplicas ?? 0) === replicas &&
    (s.replicas ?? 0) === replicas &&
    (s.availableReplicas ?? 0) === replicas &&
    (s.observedGeneration ?? 0) >= (metaOf(d as unknown as PlainObject).generation ?? 0)
  );
}

/**
 * Did the rollout move since the last status: more updated, fewer old, more ready or
 * more available replicas (DeploymentProgressing).
 */
export function deploymentProgressing(d: Deployment, s: DeploymentStatus): boolean {
  const old = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (
    (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
    newOld < oldOld ||
    (s.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
    (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
  );
}

/** No progress for longer than progressDeadlineSeconds since the condition last moved (DeploymentTimedOut). */
export function deploymentTimedOut(d: Deployment, s: DeploymentStatus, now: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const cond = getCondition(s, PROGRESSING);
  if (!cond) return false;
  if (cond.reason === NEW_RS_AVAILABLE_REASON) return false;
  if (cond.reason === TIMED_OUT_REASON) return true;
  const from = parseTime(cond.lastUpdateTime);
  if (from === undefined) return false;
  return from + (d.spec.progressDeadlineSeconds ?? 600) * 1000 < now;
}

/**
 * Compute the Progressing condition of a rollout into `status` (the heart of
 * syncRolloutStatus). Returns the status to write.
 */
export function withRolloutProgress(d: Deployment, status: DeploymentStatus, newRS: ReplicaSet | undefined, now: number): DeploymentStatus {
  if (!hasProgressDeadline(d)) removeCondition(status, PROGRESSING);
  const current = getCondition(status, PROGRESSING);
  const complete = status.replicas === status.updatedReplicas && current?.reason === NEW_RS_AVAILABLE_REASON;
  if (!hasProgressDeadline(d) || complete) return status;
  const rsName = newRS?.metadata.name ?? '';
  if (deploymentComplete(d, status)) {
    setCondition(status, newCondition(PROGRESSING, 'True', NEW_RS_AVAILABLE_REASON, `ReplicaSet "${rsName}" has successfully progressed.`, now));
  } else if (deploymentProgressing(d, status)) {
    // Progress: a fresh lastUpdateTime restarts the deadline; the transition time stays.
    const cond = newCondition(PROGRESSING, 'True', RS_UPDATED_REASON, `ReplicaSet "${rsName}" is progressing.`, now);
    if (current?.status === 'True' && current.lastTransitionTime) cond.lastTransitionTime = current.lastTransitionTime;
    removeCondition(status, PROGRESSING);
    setCondition(status, cond);
  } else if (deploymentTimedOut(d, status, now)) {
    setCondition(status, newCondition(PROGRESSING, 'False', TIMED_OUT_REASON, `ReplicaSet "${rsName}" has timed out progressing.`, now));
  }
  return status;
}

/**
 * When to look again at a rollout that has not finished: just after its progress
 * deadline would pass (requeueStuckDeployment). undefined: no need.
 */
export function stuckRequeueMs(d: Deployment, status: DeploymentStatus, now: number): number | undefined {
  const cond = getCondition(status, PROGRESSING);
  if (!hasProgressDeadline(d) || !cond || deploymentComplete(d, status)) return undefined;
  if (cond.reason === TIMED_OUT_REASON || cond.reason === PAUSED_REASON) return undefined;
  const from = parseTime(cond.lastUpdateTime);
  if (from === undefined) return undefined;
  const after = from + (d.spec.progressDeadlineSeconds ?? 600) * 1000 - now;
  // A second more than the deadline, so the check that runs then sees it passed.
  return Math.max(1, after + 1000);
}
