/**
 * `d`: an object described exactly as `berth describe` prints it (the CLI's pure
 * describers in src/cli/output/describe.ts), with the related objects — events, a
 * Deployment's ReplicaSets, a ReplicaSet's pods, a node's pods, a Service's endpoints —
 * taken from the TUI's stores instead of fetched, so the view stays live while open.
 * Secrets show sizes, never values.
 */
import type { PlainObject } from '../client/client.ts';
import { controllerOf, equalIgnoreHash } from '../cli/commands/workloads.ts';
import {
  countPodPhases,
  describeConfigMap,
  describeCronJob,
  describeDeployment,
  describeEndpoints,
  describeGeneric,
  describeHpa,
  describeJob,
  describeNamespace,
  describeNode,
  describePod,
  describeReplicaSet,
  describeSecret,
  describeService,
} from '../cli/output/describe.ts';
import { metaOf, nameOf, namespaceOf, type Obj } from './store.ts';

/** What a description may need besides the object: the stores' contents, read lazily. */
export interface Related {
  events(): Iterable<PlainObject>;
  replicaSets(): Iterable<PlainObject>;
  pods(): Iterable<PlainObject>;
  endpoints(namespace: string, name: string): PlainObject | undefined;
}

/** The kinds whose stores a description of `kind` reads (their feeds must run). */
export function relatedKinds(kind: string): string[] {
  switch (kind) {
    case 'Deployment':
      return ['Event', 'ReplicaSet'];
    case 'ReplicaSet':
    case 'Node':
      return ['Event', 'Pod'];
    case 'Service':
      return ['Event', 'Endpoints'];
    case 'Secret':
      return [];
    default:
      return ['Event'];
  }
}

/**
 * Whether an event is about `o`, as kubectl searches: by name and namespace, by kind
 * (except for pods) and by uid (except for nodes, whose events agents and controllers
 * record under different uids).
 */
export function eventConcerns(ev: PlainObject, o: PlainObject): boolean {
  const inv = (ev.involvedObject ?? {}) as Obj;
  const m = metaOf(o);
  if (inv.name !== m.name) return false;
  if ((inv.namespace ?? '') !== (m.namespace ?? '') && o.kind !== 'Node') return false;
  if (o.kind !== 'Pod' && inv.kind !== o.kind) return false;
  if (o.kind !== 'Node' && m.uid && inv.uid && inv.uid !== m.uid) return false;
  return true;
}

function creation(o: PlainObject): string {
  return String(metaOf(o).creationTimestamp ?? '');
}

/** The lines of `describe` for one object. */
export function describeLines(o: PlainObject, related: Related, now: number): string[] {
  return describeText(o, related, now).replace(/\n$/, '').split('\n');
}

function describeText(o: PlainObject, related: Related, now: number): string {
  const events = o.kind === 'Secret' ? [] : [...related.events()].filter((e) => eventConcerns(e, o));
  const uid = String(metaOf(o).uid ?? '');
  const spec = (o.spec ?? {}) as Obj;
  switch (o.kind) {
    case 'Pod':
      return describePod(o, events, now);
    case 'Deployment': {
      const all = [...related.replicaSets()].filter((rs) => controllerOf(rs)?.uid === uid);
      all.sort((a, b) => (creation(a) === creation(b) ? (nameOf(a) < nameOf(b) ? -1 : 1) : creation(a) < creation(b) ? -1 : 1));
      const newSet = all.find((rs) => equalIgnoreHash(((rs.spec ?? {}) as Obj).template, spec.template));
      return describeDeployment(o, all.filter((rs) => rs !== newSet), newSet, events, now);
    }
    case 'ReplicaSet':
      return describeReplicaSet(o, countPodPhases([...related.pods()].filter((p) => namespaceOf(p) === namespaceOf(o)), uid), events, now);
    case 'Job':
      return describeJob(o, events, now);
    case 'CronJob':
      return describeCronJob(o, events, now);
    case 'Service':
      return describeService(o, related.endpoints(namespaceOf(o), nameOf(o)), events, now);
    case 'Endpoints':
      return describeEndpoints(o, events, now);
    case 'Node':
      return describeNode(o, [...related.pods()].filter((p) => ((p.spec ?? {}) as Obj).nodeName === nameOf(o)), events, now);
    case 'ConfigMap':
      return describeConfigMap(o, events, now);
    case 'Secret':
      return describeSecret(o);
    case 'Namespace':
      return describeNamespace(o, events, now);
    case 'HorizontalPodAutoscaler':
      return describeHpa(o, events, now);
    default:
      return describeGeneric(o, events, now);
  }
}
