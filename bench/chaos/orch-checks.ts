/**
 * The pure parts of the orchestration checks (unit-tested in test/chaos-orch-checks.test.ts):
 * a pod running twice, a node overcommitted, and orchestration convergence per fault.
 */
import { tryParseQuantity } from '../../src/api/index.ts';
import type { PlainObject } from '../../src/client/client.ts';
import type { PodProcess } from './procscan.ts';

// ---- a pod running twice ---------------------------------------------------------------------

/**
 * One sample of what runs (one entry per live container instance, i.e. process group):
 * a pod (uid) on two nodes, one pod name running as two pods (uids), or two live instances
 * of one container of a pod.
 */
export function twiceViolations(procs: readonly PodProcess[]): string[] {
  const out: string[] = [];
  const byUid = new Map<string, PodProcess[]>();
  const byName = new Map<string, Set<string>>();
  for (const p of procs) {
    const l = byUid.get(p.uid) ?? [];
    l.push(p);
    byUid.set(p.uid, l);
    const key = `${p.namespace}/${p.name}`;
    const s = byName.get(key) ?? new Set<string>();
    s.add(p.uid);
    byName.set(key, s);
  }
  for (const [uid, ps] of byUid) {
    const nodes = [...new Set(ps.map((p) => p.node))].sort();
    if (nodes.length > 1) out.push(`pod ${ps[0]!.namespace}/${ps[0]!.name} (uid ${uid}) runs on ${nodes.join(' and ')} at once`);
    const byContainer = new Map<string, number[]>();
    for (const p of ps) byContainer.set(p.container, [...(byContainer.get(p.container) ?? []), p.pgrp]);
    for (const [c, groups] of byContainer) {
      if (groups.length > 1) out.push(`pod ${ps[0]!.namespace}/${ps[0]!.name} (uid ${uid}) container ${c} runs ${groups.length} times at once (process groups ${groups.sort((a, b) => a - b).join(', ')})`);
    }
  }
  for (const [name, uids] of byName) {
    if (uids.size > 1) out.push(`pod name ${name} runs as ${uids.size} pods at once (uids ${[...uids].sort().join(', ')})`);
  }
  return out;
}

export interface SandboxRecordView {
  node: string;
  id: string;
  uid: string;
  namespace: string;
  name: string;
  state: string;
}

/** Two ready sandboxes for one pod (anywhere). */
export function sandboxViolations(records: readonly SandboxRecordView[]): string[] {
  const ready = new Map<string, SandboxRecordView[]>();
  for (const r of records) {
    if (r.state !== 'ready') continue;
    ready.set(r.uid, [...(ready.get(r.uid) ?? []), r]);
  }
  const out: string[] = [];
  for (const [uid, rs] of ready) {
    if (rs.length > 1) out.push(`pod ${rs[0]!.namespace}/${rs[0]!.name} (uid ${uid}) has ${rs.length} ready sandboxes: ${rs.map((r) => `${r.id.slice(0, 12)} on ${r.node}`).join(', ')}`);
  }
  return out;
}

// ---- overcommit ------------------------------------------------------------------------------

export interface Allocatable {
  cpuMilli: number;
  memoryBytes: number;
  pods: number;
}

function rec(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function list(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.map(rec) : [];
}

const milli = (q: unknown) => tryParseQuantity(q)?.toMilli() ?? 0;
const bytes = (q: unknown) => tryParseQuantity(q)?.toBytes() ?? 0;

/** A Node's status.allocatable (capacity when not given); undefined when it says nothing. */
export function allocatableOf(node: PlainObject): Allocatable | undefined {
  const st = rec(node.status);
  const a = Object.keys(rec(st.allocatable)).length > 0 ? rec(st.allocatable) : rec(st.capacity);
  if (a.cpu === undefined && a.memory === undefined && a.pods === undefined) return undefined;
  return {
    cpuMilli: a.cpu === undefined ? Infinity : milli(a.cpu),
    memoryBytes: a.memory === undefined ? Infinity : bytes(a.memory),
    pods: a.pods === undefined ? Infinity : Number(tryParseQuantity(a.pods)?.toNumber() ?? Infinity),
  };
}

/**
 * A pod's effective requests: its app containers add up; an init container runs before
 * them, so the pod needs the larger of the two (no sidecars in chaos pods); plus overhead.
 */
export function requestsOf(pod: PlainObject): { cpuMilli: number; memoryBytes: number } {
  const spec = rec(pod.spec);
  let cpu = 0;
  let mem = 0;
  for (const c of list(spec.containers)) {
    const r = rec(rec(c.resources).requests);
    cpu += milli(r.cpu);
    mem += bytes(r.memory);
  }
  for (const c of list(spec.initContainers)) {
    const r = rec(rec(c.resources).requests);
    cpu = Math.max(cpu, milli(r.cpu));
    mem = Math.max(mem, bytes(r.memory));
  }
  const o = rec(spec.overhead);
  return { cpuMilli: cpu + milli(o.cpu), memoryBytes: mem + bytes(o.memory) };
}

/** Holds resources on its node: bound and not Succeeded/Failed (terminating pods still do). */
export function holdsResources(pod: PlainObject): boolean {
  const phase = rec(pod.status).phase;
  return typeof rec(pod.spec).nodeName === 'string' && rec(pod.spec).nodeName !== '' && phase !== 'Succeeded' && phase !== 'Failed';
}

/**
 * Nodes (of `nodes`, or only `only`) whose bound, non-terminal pods request more than
 * their allocatable cpu, memory or pod count.
 */
export function overcommitViolations(nodes: ReadonlyMap<string, Allocatable>, pods: Iterable<PlainObject>, only?: ReadonlySet<string>): string[] {
  const sum = new Map<string, { cpu: number; mem: number; n: number; names: string[] }>();
  for (const p of pods) {
    if (!holdsResources(p)) continue;
    const node = String(rec(p.spec).nodeName);
    if (only && !only.has(node)) continue;
    const r = requestsOf(p);
    const s = sum.get(node) ?? { cpu: 0, mem: 0, n: 0, names: [] };
    s.cpu += r.cpuMilli;
    s.mem += r.memoryBytes;
    s.n++;
    s.names.push(String(rec(p.metadata).name));
    sum.set(node, s);
  }
  const out: string[] = [];
  for (const [node, s] of [...sum].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const a = nodes.get(node);
    if (!a) continue;
    const over: string[] = [];
    if (s.cpu > a.cpuMilli) over.push(`cpu ${s.cpu}m > ${a.cpuMilli}m`);
    if (s.mem > a.memoryBytes) over.push(`memory ${s.mem} > ${a.memoryBytes} bytes`);
    if (s.n > a.pods) over.push(`${s.n} pods > ${a.pods}`);
    if (over.length > 0) out.push(`node ${node} overcommitted: ${over.join(', ')} (${s.names.sort().join(' ')})`);
  }
  return out;
}

// ---- convergence per fault -------------------------------------------------------------------

export interface ConvergenceSample {
  /** When the sample's reads began and ended (performance.now()). */
  start: number;
  end: number;
  converged: boolean;
}

/**
 * From `t` to the end of the first converged sample that began after `t` (a sample read
 * before the fault could not have seen it); undefined when none did.
 */
export function convergedAfter(samples: readonly ConvergenceSample[], t: number): number | undefined {
  for (const s of samples) if (s.start >= t && s.converged) return s.end - t;
  return undefined;
}
