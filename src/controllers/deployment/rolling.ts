/**
 * The RollingUpdate strategy (Kubernetes' deployment/rolling.go): grow the new
 * ReplicaSet while the total stays within replicas + maxSurge, shrink the old ones while
 * the available pods stay at least replicas − maxUnavailable, one step per sync; each
 * step's writes bring the events that run the next sync.
 */
import type { ReplicaSet } from '../../api/index.ts';
import { deploymentComplete } from './status.ts';
import type { DeploymentSync } from './sync.ts';
import { activeReplicaSets, availableReplicaCount, byCreation, maxUnavailable, newRSNewReplicas, replicaCount, specReplicas } from './util.ts';

export async function rolloutRolling(s: DeploymentSync, rsList: readonly ReplicaSet[]): Promise<number | undefined> {
  const { newRS, oldRSs } = await s.getAllReplicaSetsAndSyncRevision(rsList, true);
  const rs = newRS!;
  const all = [...oldRSs, rs];
  if (await reconcileNewReplicaSet(s, all, rs)) return s.syncRolloutStatus(all, rs);
  if (await reconcileOldReplicaSets(s, all, activeReplicaSets(oldRSs), rs)) return s.syncRolloutStatus(all, rs);
  if (deploymentComplete(s.d, s.d.status ?? {})) await s.cleanupDeployment(oldRSs);
  return s.syncRolloutStatus(all, rs);
}

/** Grow (or, above spec.replicas, shrink) the new ReplicaSet; true when it changed. */
async function reconcileNewReplicaSet(s: DeploymentSync, all: readonly ReplicaSet[], newRS: ReplicaSet): Promise<boolean> {
  const replicas = s.replicas;
  if (specReplicas(newRS) === replicas) return false;
  if (specReplicas(newRS) > replicas) return s.scaleReplicaSetAndRecordEvent(newRS, replicas);
  return s.scaleReplicaSetAndRecordEvent(newRS, newRSNewReplicas(s.d, all, newRS));
}

/** Shrink the old ReplicaSets as far as availability allows; true when any shrank. */
async function reconcileOldReplicaSets(s: DeploymentSync, all: readonly ReplicaSet[], oldRSs: ReplicaSet[], newRS: ReplicaSet): Promise<boolean> {
  if (replicaCount(oldRSs) === 0) return false;
  const allPods = replicaCount(all);
  const minAvailable = s.replicas - maxUnavailable(s.d);
  const newUnavailable = specReplicas(newRS) - (newRS.status?.availableReplicas ?? 0);
  // Pods that may go without dropping below minAvailable, counting the new ReplicaSet's
  // unavailable pods as already missing.
  const maxScaledDown = allPods - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return false;
  // First the old pods that are not available anyway: removing them costs no availability.
  const cleaned = await cleanupUnhealthyReplicas(s, oldRSs, maxScaledDown);
  const scaled = await scaleDownOldReplicaSets(s, [...oldRSs, newRS], oldRSs);
  return cleaned + scaled > 0;
}

async function cleanupUnhealthyReplicas(s: DeploymentSync, oldRSs: ReplicaSet[], maxCleanup: number): Promise<number> {
  let total = 0;
  for (const rs of [...oldRSs].sort(byCreation)) {
    if (total >= maxCleanup) break;
    if (specReplicas(rs) === 0) continue;
    const unhealthy = specReplicas(rs) - (rs.status?.availableReplicas ?? 0);
    if (unhealthy <= 0) continue;
    const down = Math.min(maxCleanup - total, unhealthy);
    await s.scaleReplicaSetAndRecordEvent(rs, specReplicas(rs) - down);
    total += down;
  }
  return total;
}

async function scaleDownOldReplicaSets(s: DeploymentSync, all: readonly ReplicaSet[], oldRSs: ReplicaSet[]): Promise<number> {
  const minAvailable = s.replicas - maxUnavailable(s.d);
  const available = availableReplicaCount(all);
  if (available <= minAvailable) return 0;
  const budget = available - minAvailable;
  let total = 0;
  for (const rs of [...oldRSs].sort(byCreation)) {
    if (total >= budget) break;
    if (specReplicas(rs) === 0) continue;
    const down = Math.min(specReplicas(rs), budget - total);
    await s.scaleReplicaSetAndRecordEvent(rs, specReplicas(rs) - down);
    total += down;
  }
  return total;
}
