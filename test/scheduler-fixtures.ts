/**
 * Builders for scheduler tests: nodes and pods as plain objects (the store's shapes), a
 * cache built from them, and one-call runners for a filter or a score plugin.
 */
import type { PlainObject } from '../src/controllers/types.ts';
import { SchedulerCache } from '../src/scheduler/cache.ts';
import { SKIP, type FilterPlugin, type FilterResult, type ScorePlugin } from '../src/scheduler/framework.ts';
import { PodInfo } from '../src/scheduler/pod-info.ts';

export interface NodeOpts {
  cpu?: string;
  memory?: string;
  pods?: number;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
  unschedulable?: boolean;
  ready?: boolean;
  images?: { names: string[]; sizeBytes: number }[];
  extra?: Record<string, string>;
}

export function node(name: string, o: NodeOpts = {}): PlainObject {
  const allocatable: Record<string, string> = { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: String(o.pods ?? 110), ...o.extra };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } },
    spec: { ...(o.unschedulable ? { unschedulable: true } : {}), ...(o.taints ? { taints: o.taints } : {}) },
    status: {
      capacity: allocatable,
      allocatable,
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
      ...(o.images ? { images: o.images } : {}),
    },
  };
}

export interface PodOpts {
  namespace?: string;
  cpu?: string;
  memory?: string;
  requests?: Record<string, string>;
  labels?: Record<string, string>;
  priority?: number;
  nodeName?: string;
  tolerations?: unknown[];
  nodeSelector?: Record<string, string>;
  affinity?: unknown;
  spread?: unknown[];
  hostPort?: number;
  hostIP?: string;
  protocol?: string;
  initContainers?: unknown[];
  containers?: unknown[];
  phase?: string;
  image?: string;
  preemptionPolicy?: string;
  created?: string;
  schedulerName?: string;
  /** For pure tests (no store to assign one). */
  uid?: string;
}

export function pod(name: string, o: PodOpts = {}): PlainObject {
  const requests: Record<string, string> = { ...(o.cpu ? { cpu: o.cpu } : {}), ...(o.memory ? { memory: o.memory } : {}), ...o.requests };
  const container: Record<string, unknown> = { name: 'c', image: o.image ?? 'busybox:1.36', resources: Object.keys(requests).length > 0 ? { requests } : {} };
  if (o.hostPort) container.ports = [{ containerPort: o.hostPort, hostPort: o.hostPort, ...(o.hostIP ? { hostIP: o.hostIP } : {}), protocol: o.protocol ?? 'TCP' }];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.namespace ?? 'default',
      ...(o.uid ? { uid: o.uid } : {}),
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.created ? { creationTimestamp: o.created } : {}),
    },
    spec: {
      containers: o.containers ?? [container],
      ...(o.initContainers ? { initContainers: o.initContainers } : {}),
      ...(o.priority !== undefined ? { priority: o.priority } : {}),
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.tolerations ? { tolerations: o.tolerations } : {}),
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
      ...(o.affinity ? { affinity: o.affinity } : {}),
      ...(o.spread ? { topologySpreadConstraints: o.spread } : {}),
      ...(o.preemptionPolicy ? { preemptionPolicy: o.preemptionPolicy } : {}),
      ...(o.schedulerName ? { schedulerName: o.schedulerName } : {}),
    },
    ...(o.phase ? { status: { phase: o.phase } } : {}),
  };
}

/** A pod for pure tests: uid = namespace/name unless given. */
export function podInfo(name: string, o: PodOpts = {}): PodInfo {
  return new PodInfo(pod(name, { uid: o.uid ?? `${o.namespace ?? 'default'}/${name}`, ...o }));
}

/** A cache with these nodes and these bound pods (each needs nodeName). */
export function cacheOf(nodes: PlainObject[], bound: PlainObject[] = []): SchedulerCache {
  const c = new SchedulerCache();
  for (const n of nodes) c.setNode(n);
  for (const p of bound) {
    const meta = p.metadata as { uid?: string; namespace: string; name: string };
    const withUid = meta.uid ? p : { ...p, metadata: { ...meta, uid: `${meta.namespace}/${meta.name}` } };
    c.setBoundPod(withUid);
  }
  return c;
}

/** Runs one filter plugin (with its preFilter) for `pod` on every node: node → result. */
export function runFilter(plugin: FilterPlugin, pod: PodInfo, cache: SchedulerCache): Record<string, FilterResult> {
  const state = plugin.preFilter ? plugin.preFilter(pod, cache) : undefined;
  const out: Record<string, FilterResult> = {};
  for (const n of cache.nodes) out[n.name] = state === SKIP ? undefined : plugin.filter(pod, n, state);
  return out;
}

/** Runs one score plugin (preScore, score, normalize) for `pod` over every node: node → 0..100 (undefined when skipped). */
export function runScore(plugin: ScorePlugin, pod: PodInfo, cache: SchedulerCache): Record<string, number> | undefined {
  const nodes = cache.nodes;
  const state = plugin.preScore ? plugin.preScore(pod, nodes, nodes.length, cache) : undefined;
  if (state === SKIP) return undefined;
  const scores = new Float64Array(nodes.length);
  nodes.forEach((n, i) => (scores[i] = plugin.score(pod, n, state)));
  plugin.normalize?.(scores, nodes.length, state, nodes);
  const out: Record<string, number> = {};
  nodes.forEach((n, i) => (out[n.name] = scores[i]!));
  return out;
}

/** Node names ordered best first by a score map (ties by name). */
export function ranking(scores: Record<string, number>): string[] {
  return Object.keys(scores).sort((a, b) => scores[b]! - scores[a]! || (a < b ? -1 : 1));
}
