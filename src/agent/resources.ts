/**
 * Container resources as the runtime needs them (cgroup values), the pod's QoS class, and
 * the values `resourceFieldRef` exposes — the same arithmetic as kubelet.
 */
import { tryParseQuantity, type Quantity } from '../api/index.ts';
import type { Container, Pod, QuantityValue, ResourceList } from '../api/index.ts';
import type { LinuxResources } from './runtimes/types.ts';

/** What the node offers: used where a container sets no limit (kubelet's default). */
export interface NodeAllocatable {
  cpuMillis: number;
  memoryBytes: number;
  ephemeralStorageBytes?: number;
}

const MIN_SHARES = 2;
const MAX_SHARES = 262_144;
const QUOTA_PERIOD = 100_000;
const MIN_QUOTA = 1_000;

function q(list: ResourceList | undefined, name: string): Quantity | undefined {
  const v = list?.[name];
  return v === undefined ? undefined : tryParseQuantity(v);
}

export function requestOf(c: Container, name: string): Quantity | undefined {
  // The API defaults a missing request to the limit; do the same for objects that were not defaulted.
  return q(c.resources?.requests, name) ?? q(c.resources?.limits, name);
}

export function limitOf(c: Container, name: string): Quantity | undefined {
  return q(c.resources?.limits, name);
}

/** requests/limits → cgroup values: shares from the cpu request, CFS quota from the cpu limit, memory limit. */
export function linuxResources(c: Container): LinuxResources {
  const out: LinuxResources = {};
  const cpuReq = requestOf(c, 'cpu');
  const milli = cpuReq ? cpuReq.toMilli() : 0;
  out.cpuShares = Math.min(MAX_SHARES, Math.max(MIN_SHARES, Math.floor((milli * 1024) / 1000)));
  const cpuLim = limitOf(c, 'cpu');
  if (cpuLim && cpuLim.sign() > 0) {
    out.cpuQuota = Math.max(MIN_QUOTA, cpuLim.toMilli() * (QUOTA_PERIOD / 1000));
    out.cpuPeriod = QUOTA_PERIOD;
  }
  const memLim = limitOf(c, 'memory');
  if (memLim && memLim.sign() > 0) out.memoryLimitBytes = memLim.toBytes();
  const memReq = requestOf(c, 'memory');
  if (memReq && memReq.sign() > 0) out.memoryRequestBytes = memReq.toBytes();
  return out;
}

/** Kubernetes' QoS class of a pod. */
export function qosClass(pod: Pod): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const all = [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])];
  let any = false;
  let guaranteed = true;
  for (const c of all) {
    for (const r of ['cpu', 'memory']) {
      const req = requestOf(c, r);
      const lim = limitOf(c, r);
      if ((req && req.sign() > 0) || (lim && lim.sign() > 0)) any = true;
      if (!lim || lim.sign() <= 0 || !req || req.cmp(lim) !== 0) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/**
 * The value of `resourceFieldRef` (env or downward API volume): the request or limit divided
 * by `divisor` and rounded up; a missing limit is the node's allocatable, as kubelet does.
 */
export function resourceFieldValue(c: Container, resource: string, divisor: QuantityValue | undefined, node: NodeAllocatable): string {
  const div = divisor === undefined || divisor === '' ? undefined : tryParseQuantity(divisor);
  if (divisor !== undefined && divisor !== '' && (!div || div.sign() <= 0)) throw new Error(`invalid divisor ${String(divisor)}`);
  const [kind, name] = resource.split('.', 2) as [string, string | undefined];
  if ((kind !== 'limits' && kind !== 'requests') || !name) throw new Error(`unsupported container resource: ${resource}`);
  let value: Quantity | undefined = kind === 'limits' ? limitOf(c, name) : requestOf(c, name);
  if (name === 'cpu') {
    let milli = value ? value.toMilli() : 0;
    if (kind === 'limits' && (!value || value.sign() <= 0)) milli = node.cpuMillis;
    const d = div ? div.toMilli() : 1000;
    return String(Math.ceil(milli / Math.max(1, d)));
  }
  if (name === 'memory' || name === 'ephemeral-storage' || name.startsWith('hugepages-')) {
    let bytes = value ? value.toBytes() : 0;
    if (kind === 'limits' && (!value || value.sign() <= 0)) {
      bytes = name === 'memory' ? node.memoryBytes : name === 'ephemeral-storage' ? (node.ephemeralStorageBytes ?? 0) : 0;
    }
    const d = div ? div.toBytes() : 1;
    return String(Math.ceil(bytes / Math.max(1, d)));
  }
  throw new Error(`unsupported container resource: ${resource}`);
}

/** A ResourceList value → number, tolerating junk (undefined). */
export function quantityMilli(v: QuantityValue | undefined): number | undefined {
  const x = v === undefined ? undefined : tryParseQuantity(v);
  return x ? x.toMilli() : undefined;
}

export function quantityBytes(v: QuantityValue | undefined): number | undefined {
  const x = v === undefined ? undefined : tryParseQuantity(v);
  return x ? x.toBytes() : undefined;
}
