/**
 * Resource arithmetic shared by the scheduler and the store's binding check (fit.ts): a
 * pod's effective requests (Kubernetes' PodRequests: init containers, sidecars, overhead)
 * and a node's allocatable, as plain numbers — cpu in millicores, everything else in
 * whole units (bytes for memory and ephemeral-storage).
 *
 * Results are cached per object in WeakMaps. Objects from the store are frozen, so what
 * was computed once for an object stays right for it, and the cache is invisible to
 * callers (the functions stay pure and deterministic).
 */
import { tryParseQuantity } from '../api/quantity.ts';
import type { PlainObject } from '../controllers/types.ts';

/** Kubernetes' defaults for a container that requests no cpu/memory, used only for scoring. */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

export interface Resources {
  /** Millicores. */
  cpu: number;
  /** Bytes. */
  memory: number;
  /** Bytes. */
  ephemeral: number;
  /** Extended and other resources (hugepages-2Mi, vendor.io/gpu) in whole units; undefined when none. */
  scalar: ReadonlyMap<string, number> | undefined;
}

export interface PodRequests extends Resources {
  /** cpu with the 100m default for containers that set none (scoring only, as NonZeroRequested). */
  nonZeroCpu: number;
  /** memory with the 200Mi default for containers that set none. */
  nonZeroMemory: number;
  /** True when the pod requests nothing at all (a BestEffort pod): only the pod count applies. */
  empty: boolean;
}

export interface Allocatable extends Resources {
  /** Pod slots; Infinity when the node reports none (berth's fake runtime may omit it). */
  pods: number;
}

/** What is in use on a node (mutable: NodeInfo keeps one up to date). */
export interface Usage {
  pods: number;
  cpu: number;
  memory: number;
  ephemeral: number;
  scalar: Map<string, number> | undefined;
}

// ---- quantities ------------------------------------------------------------------------

const MILLI = new Map<string, number>();
const UNITS = new Map<string, number>();
/** Distinct quantity texts are few in practice; the bound only guards against abuse. */
const QUANTITY_CACHE_LIMIT = 10_000;

function quantity(v: unknown, milli: boolean): number {
  if (typeof v !== 'string' && typeof v !== 'number') return 0;
  const key = typeof v === 'number' ? String(v) : v;
  const cache = milli ? MILLI : UNITS;
  let n = cache.get(key);
  if (n === undefined) {
    const q = tryParseQuantity(v);
    n = q ? (milli ? q.toMilli() : q.toBytes()) : 0;
    if (cache.size >= QUANTITY_CACHE_LIMIT) cache.clear();
    cache.set(key, n);
  }
  return n;
}

// ---- pods --------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const items = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** One accumulator of the fields PodRequests composes (sum for app containers, max for init). */
class Acc {
  cpu = 0;
  memory = 0;
  ephemeral = 0;
  nzCpu = 0;
  nzMemory = 0;
  scalar: Map<string, number> | undefined;

  static ofList(list: unknown, nonZeroDefaults: boolean): Acc {
    const a = new Acc();
    if (!isObj(list)) {
      if (nonZeroDefaults) {
        a.nzCpu = DEFAULT_MILLI_CPU_REQUEST;
        a.nzMemory = DEFAULT_MEMORY_REQUEST;
      }
      return a;
    }
    let sawCpu = false;
    let sawMemory = false;
    for (const name of Object.keys(list)) {
      const v = list[name];
      switch (name) {
        case 'cpu':
          a.cpu = quantity(v, true);
          sawCpu = true;
          break;
        case 'memory':
          a.memory = quantity(v, false);
          sawMemory = true;
          break;
        case 'ephemeral-storage':
          a.ephemeral = quantity(v, false);
          break;
        case 'pods':
          break; // not a container resource
        default: {
          const n = quantity(v, false);
          if (n !== 0) (a.scalar ??= new Map()).set(name, n);
        }
      }
    }
    a.nzCpu = sawCpu || !nonZeroDefaults ? a.cpu : DEFAULT_MILLI_CPU_REQUEST;
    a.nzMemory = sawMemory || !nonZeroDefaults ? a.memory : DEFAULT_MEMORY_REQUEST;
    return a;
  }

  add(o: Acc): void {
    this.cpu += o.cpu;
    this.memory += o.memory;
    this.ephemeral += o.ephemeral;
    this.nzCpu += o.nzCpu;
    this.nzMemory += o.nzMemory;
    if (o.scalar) for (const [k, v] of o.scalar) (this.scalar ??= new Map()).set(k, (this.scalar.get(k) ?? 0) + v);
  }

  max(o: Acc): void {
    this.cpu = Math.max(this.cpu, o.cpu);
    this.memory = Math.max(this.memory, o.memory);
    this.ephemeral = Math.max(this.ephemeral, o.ephemeral);
    this.nzCpu = Math.max(this.nzCpu, o.nzCpu);
    this.nzMemory = Math.max(this.nzMemory, o.nzMemory);
    if (o.scalar) for (const [k, v] of o.scalar) (this.scalar ??= new Map()).set(k, Math.max(this.scalar.get(k) ?? 0, v));
  }

  copy(): Acc {
    const c = new Acc();
    c.add(this);
    return c;
  }
}

const containerRequests = (c: Obj): Acc => Acc.ofList(isObj(c.resources) ? c.resources.requests : undefined, true);

/**
 * Effective requests as Kubernetes computes them: app containers and sidecars (init
 * containers with restartPolicy Always) run together and add up; each ordinary init
 * container runs alone beside the sidecars started before it; the pod needs the larger
 * of the two, plus spec.overhead.
 */
function computePodRequests(pod: PlainObject): PodRequests {
  const spec = isObj(pod.spec) ? pod.spec : {};
  const total = new Acc();
  for (const c of items(spec.containers)) total.add(containerRequests(c));
  const sidecars = new Acc();
  const initPeak = new Acc();
  for (const c of items(spec.initContainers)) {
    const r = containerRequests(c);
    if (c.restartPolicy === 'Always') {
      sidecars.add(r);
      initPeak.max(sidecars);
    } else {
      const during = r.copy();
      during.add(sidecars);
      initPeak.max(during);
    }
  }
  total.add(sidecars);
  total.max(initPeak);
  if (isObj(spec.overhead)) total.add(Acc.ofList(spec.overhead, false));
  const empty = total.cpu === 0 && total.memory === 0 && total.ephemeral === 0 && total.scalar === undefined;
  return {
    cpu: total.cpu,
    memory: total.memory,
    ephemeral: total.ephemeral,
    scalar: total.scalar,
    nonZeroCpu: total.nzCpu,
    nonZeroMemory: total.nzMemory,
    empty,
  };
}

const podRequestCache = new WeakMap<object, PodRequests>();

/**
 * What the per-pod caches are keyed on: the spec object, which is all they read. A status
 * write (the store's updateStatus copies the pod but keeps its spec object) then does not
 * cost the binding check a recomputation of every pod on the node.
 */
function specKey(pod: PlainObject): object {
  return isObj(pod.spec) ? pod.spec : pod;
}

/** The pod's effective requests (cached per spec object). */
export function podRequests(pod: PlainObject): PodRequests {
  const key = specKey(pod);
  let r = podRequestCache.get(key);
  if (!r) {
    r = computePodRequests(pod);
    podRequestCache.set(key, r);
  }
  return r;
}

/** Succeeded and Failed pods hold no resources. */
export function isTerminated(pod: PlainObject): boolean {
  const phase = isObj(pod.status) ? pod.status.phase : undefined;
  return phase === 'Succeeded' || phase === 'Failed';
}

// ---- host ports --------------------------------------------------------------------------

export interface HostPort {
  /** '0.0.0.0' when the port binds every address. */
  ip: string;
  protocol: string;
  port: number;
}

const ANY_IP = '0.0.0.0';

/** Two host ports clash on the same protocol and port when either binds every address or both bind the same one. */
export function portsClash(a: HostPort, b: HostPort): boolean {
  return a.port === b.port && a.protocol === b.protocol && (a.ip === b.ip || a.ip === ANY_IP || b.ip === ANY_IP);
}

/** True when any port of `a` clashes with any of `b`. */
export function anyPortClash(a: readonly HostPort[], b: readonly HostPort[]): boolean {
  for (const x of a) for (const y of b) if (portsClash(x, y)) return true;
  return false;
}

const portCache = new WeakMap<object, readonly HostPort[] | null>();

/** Host ports the pod asks for (app containers and sidecars), or undefined when none. */
export function podHostPorts(pod: PlainObject): readonly HostPort[] | undefined {
  const key = specKey(pod);
  let r = portCache.get(key);
  if (r === undefined) {
    const spec = isObj(pod.spec) ? pod.spec : {};
    const out: HostPort[] = [];
    const containers = [...items(spec.containers), ...items(spec.initContainers).filter((c) => c.restartPolicy === 'Always')];
    for (const c of containers) {
      for (const p of items(c.ports)) {
        const port = typeof p.hostPort === 'number' ? p.hostPort : 0;
        if (port <= 0) continue;
        out.push({ ip: typeof p.hostIP === 'string' && p.hostIP !== '' ? p.hostIP : ANY_IP, protocol: typeof p.protocol === 'string' && p.protocol !== '' ? p.protocol : 'TCP', port });
      }
    }
    r = out.length > 0 ? out : null;
    portCache.set(key, r);
  }
  return r ?? undefined;
}

// ---- nodes -------------------------------------------------------------------------------

const allocCache = new WeakMap<object, Allocatable>();

/** The node's status.allocatable (capacity when absent). */
export function nodeAllocatable(node: PlainObject): Allocatable {
  let a = allocCache.get(node);
  if (!a) {
    const status = isObj(node.status) ? node.status : {};
    const list = isObj(status.allocatable) ? status.allocatable : isObj(status.capacity) ? status.capacity : {};
    const acc = Acc.ofList(list, false);
    const pods = list.pods;
    a = { cpu: acc.cpu, memory: acc.memory, ephemeral: acc.ephemeral, scalar: acc.scalar, pods: pods === undefined || pods === null ? Infinity : quantity(pods, false) };
    allocCache.set(node, a);
  }
  return a;
}

// ---- the fit rule ------------------------------------------------------------------------

export const REASON_TOO_MANY_PODS = 'Too many pods';
const INSUFFICIENT = new Map<string, string>();
/** "Insufficient <resource>", interned so that the hot path does not build strings. */
export function insufficient(resource: string): string {
  let s = INSUFFICIENT.get(resource);
  if (s === undefined) {
    s = `Insufficient ${resource}`;
    INSUFFICIENT.set(resource, s);
  }
  return s;
}
const INSUFFICIENT_CPU = insufficient('cpu');
const INSUFFICIENT_MEMORY = insufficient('memory');
const INSUFFICIENT_EPHEMERAL = insufficient('ephemeral-storage');

/**
 * Kubernetes' fitsRequest: the pod count first, then each resource the pod requests
 * against allocatable minus what is in use. Undefined when it fits; one reason, or every
 * reason when more than one resource is short (an array is built only then).
 */
export function fitReasons(want: PodRequests, alloc: Allocatable, used: Usage): string | string[] | undefined {
  // Straight-line on purpose: this runs for every node of every cycle, so no closures.
  let why: string | string[] | undefined;
  if (used.pods + 1 > alloc.pods) why = REASON_TOO_MANY_PODS;
  if (want.empty) return why;
  if (want.cpu > 0 && want.cpu > alloc.cpu - used.cpu) why = also(why, INSUFFICIENT_CPU);
  if (want.memory > 0 && want.memory > alloc.memory - used.memory) why = also(why, INSUFFICIENT_MEMORY);
  if (want.ephemeral > 0 && want.ephemeral > alloc.ephemeral - used.ephemeral) why = also(why, INSUFFICIENT_EPHEMERAL);
  if (want.scalar) {
    for (const [name, n] of want.scalar) {
      if (n > (alloc.scalar?.get(name) ?? 0) - (used.scalar?.get(name) ?? 0)) why = also(why, insufficient(name));
    }
  }
  return why;
}

/** One more reason: an array is built only when there are two. */
function also(why: string | string[] | undefined, r: string): string | string[] {
  if (why === undefined) return r;
  if (typeof why === 'string') return [why, r];
  why.push(r);
  return why;
}

/** Adds (sign 1) or removes (sign -1) a pod's requests to a usage. */
export function addUsage(used: Usage, r: Resources, sign: 1 | -1): void {
  used.pods += sign;
  used.cpu += sign * r.cpu;
  used.memory += sign * r.memory;
  used.ephemeral += sign * r.ephemeral;
  if (r.scalar) {
    const m = (used.scalar ??= new Map());
    for (const [k, v] of r.scalar) {
      const n = (m.get(k) ?? 0) + sign * v;
      if (n === 0) m.delete(k);
      else m.set(k, n);
    }
  }
}

export const emptyUsage = (): Usage => ({ pods: 0, cpu: 0, memory: 0, ephemeral: 0, scalar: undefined });
