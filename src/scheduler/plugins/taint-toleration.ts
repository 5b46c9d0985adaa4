/**
 * TaintToleration. Filter: every NoSchedule and NoExecute taint of the node must be
 * tolerated; the reason names the first that is not. Score: fewer untolerated
 * PreferNoSchedule taints is better (counts reversed into 0..100).
 */
import type { Toleration } from '../../api/types.ts';
import { SKIP, type ClusterView, type FilterPlugin, type ScorePlugin } from '../framework.ts';
import type { NodeInfo } from '../node-info.ts';
import type { PodInfo } from '../pod-info.ts';
import { anyTolerates } from '../taints.ts';
import { defaultNormalize } from './normalize.ts';

export class TaintToleration implements FilterPlugin<undefined>, ScorePlugin<readonly Toleration[]> {
  readonly name = 'TaintToleration';
  constructor(readonly weight = 3) {}

  preFilter(_pod: PodInfo, view: ClusterView): undefined | typeof SKIP {
    return view.nodesWithHardTaints === 0 ? SKIP : undefined;
  }

  filter(pod: PodInfo, node: NodeInfo): string | undefined {
    const taints = node.hardTaints;
    for (let i = 0; i < taints.length; i++) if (!anyTolerates(pod.tolerations, taints[i]!)) return node.hardTaintReasons[i];
    return undefined;
  }

  preScore(pod: PodInfo, _nodes: readonly NodeInfo[], _count: number, view: ClusterView): readonly Toleration[] | typeof SKIP {
    // No node prefers to be avoided: every node would score the same.
    if (view.nodesWithPreferNoSchedule === 0) return SKIP;
    return pod.tolerations.filter((t) => !t.effect || t.effect === 'PreferNoSchedule');
  }

  score(_pod: PodInfo, node: NodeInfo, tolerations: readonly Toleration[]): number {
    let n = 0;
    for (const t of node.preferTaints) if (!anyTolerates(tolerations, t)) n++;
    return n;
  }

  normalize(scores: Float64Array, count: number): void {
    defaultNormalize(scores, count, true);
  }
}
