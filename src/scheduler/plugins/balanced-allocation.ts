/**
 * NodeResourcesBalancedAllocation: favours nodes where cpu and memory would be used in the
 * same proportion after placing the pod: score = (1 − std of the two fractions) × 100.
 * Pods that request nothing are not scored (every node would look the same).
 */
import { MAX_NODE_SCORE, SKIP, type ScorePlugin, type Skip } from '../framework.ts';
import type { NodeInfo } from '../node-info.ts';
import type { PodInfo } from '../pod-info.ts';

export class BalancedAllocation implements ScorePlugin<undefined> {
  readonly name = 'NodeResourcesBalancedAllocation';
  constructor(readonly weight = 1) {}

  preScore(pod: PodInfo): undefined | Skip {
    return pod.requests.empty ? SKIP : undefined;
  }

  score(pod: PodInfo, node: NodeInfo): number {
    const a = node.alloc;
    if (a.cpu <= 0 || a.memory <= 0) return MAX_NODE_SCORE; // one fraction or none: no deviation
    const cpu = Math.min(1, (node.used.cpu + pod.requests.cpu) / a.cpu);
    const memory = Math.min(1, (node.used.memory + pod.requests.memory) / a.memory);
    return Math.trunc((1 - Math.abs(cpu - memory) / 2) * MAX_NODE_SCORE);
  }
}
