/**
 * NodeAffinity. Filter: spec.nodeSelector (every pair) and the required node affinity
 * (any term) must match the node. Score: the summed weights of the preferred terms the
 * node matches, scaled so the best node gets 100. Evicting pods never helps.
 */
import { SKIP, type FilterPlugin, type ScorePlugin } from '../framework.ts';
import type { NodeInfo } from '../node-info.ts';
import { termMatches } from '../node-selector.ts';
import type { PodInfo } from '../pod-info.ts';
import { defaultNormalize } from './normalize.ts';

export const REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";

/** spec.nodeSelector and required node affinity both hold on `node`. */
export function matchesNodeSelectorAndAffinity(pod: PodInfo, node: NodeInfo): boolean {
  const sel = pod.nodeSelector;
  if (sel) {
    const labels = node.labels;
    for (const [k, v] of sel) if (labels[k] !== v || !Object.hasOwn(labels, k)) return false;
  }
  return !pod.requiredNodeAffinity || pod.requiredNodeAffinity.matches(node.labels, node.name);
}

export class NodeAffinity implements FilterPlugin<undefined>, ScorePlugin<undefined> {
  readonly name = 'NodeAffinity';
  constructor(readonly weight = 2) {}

  preFilter(pod: PodInfo): undefined | typeof SKIP {
    return pod.nodeSelector || pod.requiredNodeAffinity ? undefined : SKIP;
  }

  filter(pod: PodInfo, node: NodeInfo): string | undefined {
    return matchesNodeSelectorAndAffinity(pod, node) ? undefined : REASON_NODE_AFFINITY;
  }

  preScore(pod: PodInfo): undefined | typeof SKIP {
    return pod.preferredNodeAffinity ? undefined : SKIP;
  }

  score(pod: PodInfo, node: NodeInfo): number {
    let s = 0;
    for (const p of pod.preferredNodeAffinity!) if (termMatches(p.term, node.labels, node.name)) s += p.weight;
    return s;
  }

  normalize(scores: Float64Array, count: number): void {
    defaultNormalize(scores, count, false);
  }
}
