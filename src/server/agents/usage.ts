/**
 * The latest CPU and memory usage per pod and per node, as agents report it, in the
 * leader's memory (the HPA and `berth top` read it; it is never written to the log).
 * Samples older than `maxAgeMs` are treated as gone, so a dead node's pods drop out.
 */
import type { UsageSource } from '../../controllers/types.ts';

export interface ContainerSample {
  name: string;
  cpuMillicores: number;
  memoryBytes: number;
}

export interface PodSample {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  timestamp: number;
  containers: ContainerSample[];
}

export interface NodeSample {
  name: string;
  timestamp: number;
  cpuMillicores: number;
  memoryBytes: number;
}

const DEFAULT_MAX_AGE_MS = 5 * 60_000;

export class UsageStore implements UsageSource {
  private readonly pods = new Map<string, PodSample>();
  private readonly nodes = new Map<string, NodeSample>();
  /** Pods each node reported last time, so that pods a node stops reporting are dropped. */
  private readonly podsOfNode = new Map<string, Set<string>>();

  constructor(
    private readonly now: () => number,
    private readonly maxAgeMs = DEFAULT_MAX_AGE_MS,
  ) {}

  clear(): void {
    this.pods.clear();
    this.nodes.clear();
    this.podsOfNode.clear();
  }

  /**
   * One agent report: the node's totals and its pods' samples. A report with pod samples
   * replaces the node's previous set (the agent reports every pod it runs).
   */
  record(node: string, totals: { cpuMillicores: number; memoryBytes: number } | undefined, pods: Omit<PodSample, 'timestamp' | 'node'>[]): void {
    const t = this.now();
    if (totals) this.nodes.set(node, { name: node, timestamp: t, ...totals });
    if (pods.length === 0) return;
    const next = new Set<string>();
    for (const p of pods) {
      const key = `${p.namespace}/${p.name}`;
      next.add(key);
      this.pods.set(key, { ...p, node, timestamp: t, containers: p.containers.map((c) => ({ ...c })) });
    }
    for (const key of this.podsOfNode.get(node) ?? []) {
      if (!next.has(key) && this.pods.get(key)?.node === node) this.pods.delete(key);
    }
    this.podsOfNode.set(node, next);
  }

  forgetNode(node: string): void {
    this.nodes.delete(node);
    for (const key of this.podsOfNode.get(node) ?? []) if (this.pods.get(key)?.node === node) this.pods.delete(key);
    this.podsOfNode.delete(node);
  }

  podSample(namespace: string, name: string): PodSample | undefined {
    const s = this.pods.get(`${namespace}/${name}`);
    return s && this.now() - s.timestamp <= this.maxAgeMs ? s : undefined;
  }

  nodeSample(name: string): NodeSample | undefined {
    const s = this.nodes.get(name);
    return s && this.now() - s.timestamp <= this.maxAgeMs ? s : undefined;
  }

  podUsage(namespace: string, name: string): { timestamp: number; containers: ContainerSample[] } | undefined {
    const s = this.podSample(namespace, name);
    return s ? { timestamp: s.timestamp, containers: s.containers.map((c) => ({ ...c })) } : undefined;
  }
}
