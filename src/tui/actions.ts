/**
 * What the TUI's action keys do to the cluster, through the client: scale, rollout
 * restart (the pod template's `kubectl.kubernetes.io/restartedAt` annotation, as
 * kubectl sets it), rollback to the previous revision (computed client-side from the
 * Deployment's ReplicaSets, as kubectl does, with `berth rollout undo`'s planUndo),
 * delete, cordon/uncordon and leadership transfer. Each read-modify-write is conditional
 * on the version read and retried on a conflict. Every function resolves with the line
 * the status bar shows, or rejects with the API's error.
 */
import type { ClusterStatus, PlainObject } from '../client/client.ts';
import { planUndo, RESTARTED_AT_ANNOTATION } from '../cli/commands/rollout.ts';
import { controllerOf } from '../cli/commands/workloads.ts';
import type { Obj } from './store.ts';
import type { Target } from './state.ts';

/** What the actions need of BerthClient. */
export interface ActionClient {
  get(kind: string, namespace: string, name: string): Promise<PlainObject>;
  list(kind: string, opts: { namespace?: string }): Promise<{ items: PlainObject[] }>;
  update(obj: PlainObject): Promise<PlainObject>;
  delete(kind: string, namespace: string, name: string): Promise<PlainObject>;
  transferLeader(to: number): Promise<ClusterStatus>;
}

export const RESTARTED_AT = RESTARTED_AT_ANNOTATION;

const ABORTED = 10;
const ATTEMPTS = 5;

const rec = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

function describeTarget(t: Target): string {
  return `${t.kind.toLowerCase()}/${t.name}`;
}

/** Get, change a copy, update; again on a conflict (someone else wrote in between). */
async function modify(client: ActionClient, t: Target, change: (o: Obj) => void): Promise<PlainObject> {
  for (let attempt = 1; ; attempt++) {
    const current = await client.get(t.kind, t.namespace, t.name);
    const copy = structuredClone(current) as Obj;
    change(copy);
    try {
      return await client.update(copy as PlainObject);
    } catch (e) {
      if ((e as { code?: number }).code !== ABORTED || attempt >= ATTEMPTS) throw e;
    }
  }
}

export async function scale(client: ActionClient, t: Target, replicas: number): Promise<string> {
  await modify(client, t, (o) => {
    o.spec = { ...rec(o.spec), replicas };
  });
  return `${describeTarget(t)} scaled to ${replicas}`;
}

export async function restart(client: ActionClient, t: Target, now: number): Promise<string> {
  await modify(client, t, (o) => {
    const spec = rec(o.spec);
    const template = rec(spec.template);
    const meta = rec(template.metadata);
    o.spec = { ...spec, template: { ...template, metadata: { ...meta, annotations: { ...rec(meta.annotations), [RESTARTED_AT]: new Date(now).toISOString() } } } };
  });
  return `${describeTarget(t)} restarted`;
}

export async function rollback(client: ActionClient, t: Target): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const [deployment, sets] = await Promise.all([client.get('Deployment', t.namespace, t.name), client.list('ReplicaSet', { namespace: t.namespace })]);
    const uid = rec(deployment.metadata).uid;
    // `berth rollout undo`'s own plan: the revision before the latest, its template.
    const plan = planUndo(deployment, sets.items.filter((rs) => controllerOf(rs)?.uid === uid), 0);
    if (plan.unchanged) return `${describeTarget(t)} skipped rollback (current template already matches revision ${plan.revision})`;
    try {
      await client.update(plan.deployment);
      return `${describeTarget(t)} rolled back to revision ${plan.revision}`;
    } catch (e) {
      if ((e as { code?: number }).code !== ABORTED || attempt >= ATTEMPTS) throw e;
    }
  }
}

export async function remove(client: ActionClient, t: Target): Promise<string> {
  await client.delete(t.kind, t.namespace, t.name);
  return `${describeTarget(t)} deleted`;
}

export async function cordon(client: ActionClient, t: Target, unschedulable: boolean): Promise<string> {
  await modify(client, t, (o) => {
    const spec = { ...rec(o.spec) };
    if (unschedulable) spec.unschedulable = true;
    else delete spec.unschedulable;
    o.spec = spec;
  });
  return `node/${t.name} ${unschedulable ? 'cordoned' : 'uncordoned'}`;
}

export async function transfer(client: ActionClient, id: number): Promise<string> {
  const s = await client.transferLeader(id);
  return s.leader === id ? `replica ${id} now leads (term ${s.term})` : `leadership transfer to replica ${id} requested`;
}
