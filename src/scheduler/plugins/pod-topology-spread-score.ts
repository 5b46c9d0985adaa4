/**
 * PodTopologySpread score (whenUnsatisfiable: ScheduleAnyway): a node scores the matching
 * pods in its domains, each constraint weighted by log(number of domains + 2) so that
 * constraints over few domains are not drowned by those over many, plus maxSkew − 1 to
 * soften small differences; then reversed so the emptiest domain scores 100. Nodes
 * missing a topology key score 0.
 */
import { MAX_NODE_SCORE, SKIP, type ClusterView, type ScorePlugin } from '../framework.ts';
import type { NodeInfo } from '../node-info.ts';
import type { PodInfo, SpreadConstraint } from '../pod-info.ts';
import { countMatching, hasAllKeys, nodeIncluded } from './pod-topology-spread.ts';

interface State {
  constraints: readonly SpreadConstraint[];
  counts: Map<string, number>[];
  weights: number[];
}

const IGNORED = -1;

export class PodTopologySpreadScore implements ScorePlugin<State> {
  readonly name = 'PodTopologySpread';
  constructor(readonly weight = 2) {}

  preScore(pod: PodInfo, nodes: readonly NodeInfo[], count: number, view: ClusterView): State | typeof SKIP {
    const constraints = pod.softSpread;
    if (!constraints) return SKIP;
    // Domains are those of the feasible nodes; pods are counted on every node in them.
    const counts = constraints.map(() => new Map<string, number>());
    for (let i = 0; i < count; i++) {
      const node = nodes[i]!;
      if (!hasAllKeys(node, constraints)) continue;
      constraints.forEach((c, j) => counts[j]!.set(node.labels[c.topologyKey]!, 0));
    }
    const weights = counts.map((m) => Math.log(m.size + 2));
    for (const node of view.nodes) {
      if (!hasAllKeys(node, constraints)) continue;
      constraints.forEach((c, j) => {
        const v = node.labels[c.topologyKey]!;
        const cur = counts[j]!.get(v);
        if (cur === undefined || !nodeIncluded(c, pod, node)) return;
        counts[j]!.set(v, cur + countMatching(node, c.selector, pod.namespace));
      });
    }
    return { constraints, counts, weights };
  }

  score(_pod: PodInfo, node: NodeInfo, s: State): number {
    if (!hasAllKeys(node, s.constraints)) return IGNORED;
    let score = 0;
    s.constraints.forEach((c, j) => {
      score += (s.counts[j]!.get(node.labels[c.topologyKey]!) ?? 0) * s.weights[j]! + (c.maxSkew - 1);
    });
    return Math.round(score);
  }

  normalize(scores: Float64Array, count: number): void {
    let min = Infinity;
    let max = 0;
    for (let i = 0; i < count; i++) {
      const s = scores[i]!;
      if (s === IGNORED) continue;
      if (s < min) min = s;
      if (s > max) max = s;
    }
    for (let i = 0; i < count; i++) {
      const s = scores[i]!;
      if (s === IGNORED) scores[i] = 0;
      else if (max === 0) scores[i] = MAX_NODE_SCORE;
      else scores[i] = Math.floor((MAX_NODE_SCORE * (max + min - s)) / max);
    }
  }
}
