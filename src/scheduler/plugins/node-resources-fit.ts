/**
 * NodeResourcesFit. Filter: the pod's requests (cpu, memory, ephemeral storage, extended
 * resources, one pod slot) must fit in allocatable minus what bound and assumed pods use,
 * and minus the room kept for pods nominated to the node with at least this priority.
 * The rule is fitReasons, the same one the store's binding check applies.
 *
 * Score, per ClusterConfig.scoringStrategy over cpu and memory (non-zero requests):
 * LeastAllocated favours the emptiest node (spreading), MostAllocated the fullest that
 * still fits (bin packing).
 */
import type { ClusterConfig } from '../../controllers/types.ts';
import { MAX_NODE_SCORE, type FilterPlugin, type ScorePlugin } from '../framework.ts';
import type { NodeInfo } from '../node-info.ts';
import type { PodInfo } from '../pod-info.ts';
import { addUsage, fitReasons, type Usage } from '../resources.ts';

export type ScoringStrategy = ClusterConfig['scoringStrategy'];

function leastAllocated(requested: number, allocatable: number): number {
  return requested > allocatable ? 0 : Math.floor(((allocatable - requested) * MAX_NODE_SCORE) / allocatable);
}

function mostAllocated(requested: number, allocatable: number): number {
  return requested > allocatable ? MAX_NODE_SCORE : Math.floor((requested * MAX_NODE_SCORE) / allocatable);
}

export class NodeResourcesFit implements FilterPlugin<undefined>, ScorePlugin<undefined> {
  readonly name = 'NodeResourcesFit';
  private readonly scorer: (requested: number, allocatable: number) => number;

  constructor(
    readonly strategy: ScoringStrategy = 'LeastAllocated',
    readonly weight = 1,
  ) {
    this.scorer = strategy === 'MostAllocated' ? mostAllocated : leastAllocated;
  }

  filter(pod: PodInfo, node: NodeInfo): string | string[] | undefined {
    const nominated = node.nominated;
    if (nominated === undefined) return fitReasons(pod.requests, node.alloc, node.used);
    let used: Usage = node.used;
    for (const p of nominated) {
      if (p.uid === pod.uid || p.priority < pod.priority) continue;
      if (used === node.used) used = { ...node.used, scalar: node.used.scalar && new Map(node.used.scalar) };
      addUsage(used, p.requests, 1);
    }
    return fitReasons(pod.requests, node.alloc, used);
  }

  resolvable(): boolean {
    return true;
  }

  score(pod: PodInfo, node: NodeInfo): number {
    // Resources the node has none of are left out of the average, as in kube-scheduler.
    let sum = 0;
    let n = 0;
    const a = node.alloc;
    if (a.cpu > 0) {
      sum += this.scorer(node.nonZeroCpu + pod.requests.nonZeroCpu, a.cpu);
      n++;
    }
    if (a.memory > 0) {
      sum += this.scorer(node.nonZeroMemory + pod.requests.nonZeroMemory, a.memory);
      n++;
    }
    return n === 0 ? 0 : Math.floor(sum / n);
  }
}
