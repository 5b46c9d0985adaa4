/**
 * The Recreate strategy (Kubernetes' deployment/recreate.go): scale every old
 * ReplicaSet to zero, wait until none of their pods is left, then create (or grow) the
 * new ReplicaSet to full size. Old and new pods never run at the same time.
 */
import type { ReplicaSet } from '../../api/index.ts';
import type { PlainObject } from '../types.ts';
import { deploymentComplete } from './status.ts';
import { withNew, type DeploymentSync } from './sync.ts';
import { activeReplicaSets } from './util.ts';

export async function rolloutRecreate(s: DeploymentSync, rsList: readonly ReplicaSet[], pods: () => PlainObject[]): Promise<number | undefined> {
  // The new ReplicaSet is not created yet: its pods must not start before the old ones stop.
  let { newRS, oldRSs } = await s.getAllReplicaSetsAndSyncRevision(rsList, false);
  let all = withNew(oldRSs, newRS);
  let scaledDown = false;
  for (const rs of activeReplicaSets(oldRSs)) {
    if (await s.scaleReplicaSetAndRecordEvent(rs, 0)) scaledDown = true;
  }
  if (scaledDown) return s.syncRolloutStatus(all, newRS);
  if (s.oldPodsRunning(newRS, oldRSs, pods())) return s.syncRolloutStatus(all, newRS);
  if (!newRS) {
    ({ newRS, oldRSs } = await s.getAllReplicaSetsAndSyncRevision(rsList, true));
    all = withNew(oldRSs, newRS);
  }
  await s.scaleReplicaSetAndRecordEvent(newRS!, s.replicas);
  if (deploymentComplete(s.d, s.d.status ?? {})) await s.cleanupDeployment(oldRSs);
  return s.syncRolloutStatus(all, newRS);
}
