/**
 * InterPodAffinity score: preferred pod affinity and anti-affinity, both ways. Each
 * existing pod adds to the topology domain of its node:
 *  + weight for each preferred affinity term of the incoming pod that selects it,
 *  − weight for each preferred anti-affinity term of the incoming pod that selects it,
 *  + weight / − weight for its own preferred (anti-)affinity terms that select the incoming
 *    pod, and +1 for its required affinity terms that do (kube-scheduler's
 *    hardPodAffinityWeight).
 * A node scores the sum over the domains it is in, scaled min..max to 0..100.
 */
import { MAX_NODE_SCORE, SKIP, type ClusterView, type ScorePlugin } from '../framework.ts';
import type { NodeInfo } from '../node-info.ts';
import { termMatchesPod, type AffinityTerm, type NamespaceLabels, type PodInfo } from '../pod-info.ts';
import { addCount, type TopologyCounts } from './inter-pod-affinity.ts';

const HARD_POD_AFFINITY_WEIGHT = 1;

function credit(m: TopologyCounts, terms: readonly AffinityTerm[] | undefined, target: PodInfo, node: NodeInfo, sign: 1 | -1, ns: NamespaceLabels, weight?: number): void {
  if (!terms) return;
  for (const t of terms) {
    const v = node.labels[t.topologyKey];
    if (v !== undefined && termMatchesPod(t, target, ns)) addCount(m, t.topologyKey, v, sign * (weight ?? t.weight));
  }
}

export class InterPodAffinityScore implements ScorePlugin<TopologyCounts> {
  readonly name = 'InterPodAffinity';
  constructor(readonly weight = 2) {}

  preScore(pod: PodInfo, _nodes: readonly NodeInfo[], _count: number, view: ClusterView): TopologyCounts | typeof SKIP {
    const own = pod.preferredAffinity !== undefined || pod.preferredAntiAffinity !== undefined;
    if (!own && view.podsWithAffinity === 0) return SKIP;
    const ns = view.namespaceLabels;
    const m: TopologyCounts = new Map();
    for (const node of view.nodes) {
      if (!own && node.withAffinity === 0) continue;
      for (const other of node.pods.values()) {
        if (own) {
          credit(m, pod.preferredAffinity, other, node, 1, ns);
          credit(m, pod.preferredAntiAffinity, other, node, -1, ns);
        }
        if (other.hasAffinity) {
          credit(m, other.requiredAffinity, pod, node, 1, ns, HARD_POD_AFFINITY_WEIGHT);
          credit(m, other.preferredAffinity, pod, node, 1, ns);
          credit(m, other.preferredAntiAffinity, pod, node, -1, ns);
        }
      }
    }
    return m.size === 0 ? SKIP : m;
  }

  score(_pod: PodInfo, node: NodeInfo, m: TopologyCounts): number {
    let s = 0;
    for (const [key, byValue] of m) {
      const v = node.labels[key];
      if (v !== undefined) s += byValue.get(v) ?? 0;
    }
    return s;
  }

  normalize(scores: Float64Array, count: number): void {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < count; i++) {
      if (scores[i]! < min) min = scores[i]!;
      if (scores[i]! > max) max = scores[i]!;
    }
    const diff = max - min;
    for (let i = 0; i < count; i++) scores[i] = diff > 0 ? Math.floor((MAX_NODE_SCORE * (scores[i]! - min)) / diff) : 0;
  }
}
