/**
 * Rollback: put the pod template of an earlier revision back into a Deployment.
 *
 * `rollbackTemplate` is what `berth rollout undo` uses (as kubectl does today, the client
 * computes the rolled-back deployment and updates it, conditional on the version it
 * read). `rollbackLegacy` serves the old server-side form, spec.rollbackTo (or its
 * annotation), inside the controller.
 */
import type { Deployment, ReplicaSet } from '../../api/index.ts';
import { clone, getControllerOf, metaOf } from '../pod-util.ts';
import type { Cluster, PlainObject } from '../types.ts';
import { withNew, type DeploymentSync } from './sync.ts';
import { equalIgnoreHash, lastRevision, revisionOf, ROLLBACK_TO_ANNOTATION, setFromReplicaSet } from './util.ts';

export type RollbackErrorReason = 'NoHistory' | 'RevisionNotFound' | 'Paused';

export class RollbackError extends Error {
  override name = 'RollbackError';
  constructor(
    readonly reason: RollbackErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export interface RollbackPlan {
  /** The deployment with the revision's template (a copy; not written). */
  deployment: Deployment;
  /** The revision rolled back to. */
  revision: number;
  /** The deployment already has that template: updating it changes nothing. */
  unchanged: boolean;
}

/** The ReplicaSets a deployment controls, as the store has them now. */
export function replicaSetsOf(cluster: Cluster, deployment: PlainObject): ReplicaSet[] {
  const m = metaOf(deployment);
  return cluster
    .list('ReplicaSet', { namespace: m.namespace ?? '' })
    .filter((rs) => getControllerOf(rs)?.uid === m.uid) as unknown as ReplicaSet[];
}

/** Where a rollback to `toRevision` (default: the previous revision) leads. Throws RollbackError. */
export function planRollback(cluster: Cluster, deployment: PlainObject, toRevision?: number): RollbackPlan {
  const d = clone(deployment) as unknown as Deployment;
  const name = d.metadata.name ?? '';
  if (d.spec.paused) {
    throw new RollbackError('Paused', `you cannot rollback a paused deployment; resume it first with 'berth rollout resume deployment/${name}' and try again`);
  }
  const sets = replicaSetsOf(cluster, deployment);
  let revision = toRevision ?? 0;
  if (revision === 0) {
    revision = lastRevision(sets as unknown as PlainObject[]);
    if (revision === 0) throw new RollbackError('NoHistory', `no rollout history found for deployment "${name}"`);
  }
  const rs = sets.find((r) => revisionOf(r as unknown as PlainObject) === revision);
  if (!rs) throw new RollbackError('RevisionNotFound', `unable to find specified revision ${revision} in history`);
  const unchanged = equalIgnoreHash(d.spec.template, rs.spec.template);
  if (!unchanged) setFromReplicaSet(d, rs);
  return { deployment: d, revision, unchanged };
}

/**
 * The deployment with the pod template of revision `toRevision` (default: the one before
 * the current), ready to be written back with an update (its resourceVersion is the one
 * read, so the update fails if the deployment changed meanwhile).
 */
export function rollbackTemplate(cluster: Cluster, deployment: PlainObject, toRevision?: number): Deployment {
  return planRollback(cluster, deployment, toRevision).deployment;
}

/**
 * spec.rollbackTo as the extensions/v1beta1 controller handled it: roll the template back
 * (or report why not) and clear the request, in one conditional update.
 */
export async function rollbackLegacy(s: DeploymentSync, rsList: readonly ReplicaSet[], revision: number): Promise<undefined> {
  const d = s.d;
  const { newRS, oldRSs } = await s.getAllReplicaSetsAndSyncRevision(rsList, true);
  const all = withNew(oldRSs, newRS) as unknown as PlainObject[];
  const event = (type: 'Normal' | 'Warning', reason: string, message: string) => s.ctx.events.event(d as unknown as PlainObject, type, reason, message);
  let rev = revision;
  if (rev === 0) rev = lastRevision(all);
  if (rev === 0) {
    event('Warning', 'DeploymentRollbackRevisionNotFound', 'Unable to find last revision.');
  } else {
    const rs = all.find((r) => revisionOf(r) === rev) as unknown as ReplicaSet | undefined;
    if (!rs) {
      event('Warning', 'DeploymentRollbackRevisionNotFound', 'Unable to find the revision to rollback to.');
    } else if (equalIgnoreHash(d.spec.template, rs.spec.template)) {
      event('Warning', 'DeploymentRollbackTemplateUnchanged', `The rollback revision contains the same template as current deployment "${d.metadata.name}"`);
    } else {
      setFromReplicaSet(d, rs);
      event('Normal', 'DeploymentRollback', `Rolled back deployment "${d.metadata.name}" to revision ${rev}`);
    }
  }
  delete (d.spec as { rollbackTo?: unknown }).rollbackTo;
  if (d.metadata.annotations) delete d.metadata.annotations[ROLLBACK_TO_ANNOTATION];
  await s.updateDeployment();
  return undefined;
}
