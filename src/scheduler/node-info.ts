/**
 * NodeInfo: one node as the scheduler sees it — its object's scheduling-relevant fields,
 * precomputed, plus the sum of what its pods (bound and assumed) request, their host ports
 * and the pods themselves for affinity and spreading. Filters and scores read only plain
 * fields from here, which is what keeps one node's check to tens of nanoseconds.
 */
import type { Labels } from '../api/labels.ts';
import type { Taint } from '../api/types.ts';
import type { PlainObject } from '../controllers/types.ts';
import type { PodInfo } from './pod-info.ts';
import { addUsage, emptyUsage, nodeAllocatable, type Allocatable, type HostPort, type Usage } from './resources.ts';

const EMPTY_LABELS: Labels = Object.freeze({});
const NO_TAINTS: readonly Taint[] = Object.freeze([]);
const NO_REASONS: readonly string[] = Object.freeze([]);
const NO_ALLOCATABLE: Allocatable = Object.freeze({ cpu: 0, memory: 0, ephemeral: 0, scalar: undefined, pods: 0 });

/**
 * An image reference reduced to what identifies it for image locality: the registry
 * domain (a first path part with '.' or ':', or localhost) and the implicit `library/`
 * are dropped, `:latest` is added when no tag or digest is given — so `nginx`,
 * `library/nginx:latest` and `<registry>/library/nginx:latest` all read `nginx:latest`.
 * (The same path on two registries then counts as one image: good enough for a score.)
 */
export function normalizeImageName(image: string): string {
  let name = image;
  const slash = name.indexOf('/');
  if (slash > 0) {
    const first = name.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') name = name.slice(slash + 1);
  }
  if (name.startsWith('library/')) name = name.slice('library/'.length);
  if (!name.includes('@') && !name.slice(name.lastIndexOf('/') + 1).includes(':')) name = `${name}:latest`;
  return name;
}

export interface OwnedPort {
  uid: string;
  port: HostPort;
}

export class NodeInfo {
  readonly name: string;
  /** The Node object; undefined while pods are known on a node whose object is gone. */
  node: PlainObject | undefined;
  labels: Labels = EMPTY_LABELS;
  alloc: Allocatable = NO_ALLOCATABLE;
  /** Sum over bound and assumed, non-terminated pods. */
  readonly used: Usage = emptyUsage();
  /** cpu/memory in use with Kubernetes' non-zero defaults (for scoring). */
  nonZeroCpu = 0;
  nonZeroMemory = 0;
  /** Condition Ready=True. */
  ready = false;
  /** spec.unschedulable (cordoned). */
  unschedulable = false;
  /** NoSchedule and NoExecute taints, which a pod must tolerate. */
  hardTaints: readonly Taint[] = NO_TAINTS;
  /** The filter's reason for each hard taint, built once per node change rather than per pod. */
  hardTaintReasons: readonly string[] = NO_REASONS;
  /** PreferNoSchedule taints (scoring only). */
  preferTaints: readonly Taint[] = NO_TAINTS;
  ports: OwnedPort[] | undefined;
  readonly pods = new Map<string, PodInfo>();
  /** Pods here with any pod (anti-)affinity term, and with required anti-affinity. */
  withAffinity = 0;
  withRequiredAntiAffinity = 0;
  /** Image name → size in bytes, from status.images. */
  images: ReadonlyMap<string, number> | undefined;
  /** Pods nominated to run here after preemption (their room is kept for them). */
  nominated: PodInfo[] | undefined;
  /** Position in the cache's node list; -1 when the node object is gone. */
  index = -1;

  constructor(name: string) {
    this.name = name;
  }

  /** Takes the node object's fields; true when something that scheduling depends on changed. */
  setNode(obj: PlainObject): boolean {
    const meta = (obj.metadata ?? {}) as { labels?: Record<string, string> };
    const spec = (obj.spec ?? {}) as { unschedulable?: boolean; taints?: Taint[] };
    const status = (obj.status ?? {}) as { conditions?: { type?: string; status?: string }[]; images?: { names?: string[]; sizeBytes?: number }[] };
    const labels = meta.labels ?? EMPTY_LABELS;
    const alloc = nodeAllocatable(obj);
    const ready = (status.conditions ?? []).some((c) => c?.type === 'Ready' && c.status === 'True');
    const unschedulable = spec.unschedulable === true;
    const hard: Taint[] = [];
    const prefer: Taint[] = [];
    for (const t of spec.taints ?? []) {
      if (!t || typeof t.key !== 'string') continue;
      if (t.effect === 'NoSchedule' || t.effect === 'NoExecute') hard.push(t);
      else if (t.effect === 'PreferNoSchedule') prefer.push(t);
    }
    let images: Map<string, number> | undefined;
    for (const im of status.images ?? []) {
      for (const n of im?.names ?? []) if (typeof n === 'string') (images ??= new Map()).set(normalizeImageName(n), typeof im.sizeBytes === 'number' ? im.sizeBytes : 0);
    }
    const changed =
      this.node === undefined ||
      ready !== this.ready ||
      unschedulable !== this.unschedulable ||
      !sameLabels(labels, this.labels) ||
      !sameAllocatable(alloc, this.alloc) ||
      !sameTaints(hard, this.hardTaints) ||
      !sameTaints(prefer, this.preferTaints) ||
      !sameImages(images, this.images);
    this.node = obj;
    this.labels = labels;
    this.alloc = alloc;
    this.ready = ready;
    this.unschedulable = unschedulable;
    if (!sameTaints(hard, this.hardTaints)) {
      this.hardTaints = hard.length > 0 ? hard : NO_TAINTS;
      this.hardTaintReasons = hard.map((t) => `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`);
    }
    this.preferTaints = prefer.length > 0 ? prefer : NO_TAINTS;
    this.images = images;
    return changed;
  }

  addPod(p: PodInfo): void {
    if (this.pods.has(p.uid)) return;
    this.pods.set(p.uid, p);
    addUsage(this.used, p.requests, 1);
    this.nonZeroCpu += p.requests.nonZeroCpu;
    this.nonZeroMemory += p.requests.nonZeroMemory;
    if (p.hostPorts) for (const port of p.hostPorts) (this.ports ??= []).push({ uid: p.uid, port });
    if (p.hasAffinity) this.withAffinity++;
    if (p.requiredAntiAffinity) this.withRequiredAntiAffinity++;
  }

  removePod(p: PodInfo): void {
    if (this.pods.get(p.uid) !== p) return;
    this.pods.delete(p.uid);
    addUsage(this.used, p.requests, -1);
    this.nonZeroCpu -= p.requests.nonZeroCpu;
    this.nonZeroMemory -= p.requests.nonZeroMemory;
    if (p.hostPorts && this.ports) {
      this.ports = this.ports.filter((o) => o.uid !== p.uid);
      if (this.ports.length === 0) this.ports = undefined;
    }
    if (p.hasAffinity) this.withAffinity--;
    if (p.requiredAntiAffinity) this.withRequiredAntiAffinity--;
  }

  addNominated(p: PodInfo): void {
    if (this.nominated?.includes(p)) return;
    (this.nominated ??= []).push(p);
  }

  removeNominated(uid: string): void {
    if (!this.nominated) return;
    this.nominated = this.nominated.filter((p) => p.uid !== uid);
    if (this.nominated.length === 0) this.nominated = undefined;
  }
}

function sameLabels(a: Labels, b: Labels): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

function sameAllocatable(a: Allocatable, b: Allocatable): boolean {
  if (a === b) return true;
  if (a.cpu !== b.cpu || a.memory !== b.memory || a.ephemeral !== b.ephemeral || a.pods !== b.pods) return false;
  const sa = a.scalar;
  const sb = b.scalar;
  if (!sa || !sb) return sa === sb;
  if (sa.size !== sb.size) return false;
  for (const [k, v] of sa) if (sb.get(k) !== v) return false;
  return true;
}

function sameTaints(a: readonly Taint[], b: readonly Taint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.key !== b[i]!.key || (a[i]!.value ?? '') !== (b[i]!.value ?? '') || a[i]!.effect !== b[i]!.effect) return false;
  }
  return true;
}

function sameImages(a: ReadonlyMap<string, number> | undefined, b: ReadonlyMap<string, number> | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
