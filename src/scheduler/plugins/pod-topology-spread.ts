/**
 * PodTopologySpread filter (whenUnsatisfiable: DoNotSchedule). For each constraint,
 * PreFilter counts the pods its selector matches (same namespace, not terminating) per
 * topology domain, over the nodes that carry every constraint's key and pass the node
 * inclusion policies (node affinity honoured by default, taints only when asked). A node
 * fails when placing the pod there would make its domain exceed the global minimum by
 * more than maxSkew; the minimum is 0 while fewer than minDomains domains exist.
 */
import type { Selector } from '../../api/labels.ts';
import { SKIP, type ClusterView, type FilterPlugin } from '../framework.ts';
import type { NodeInfo } from '../node-info.ts';
import type { PodInfo, SpreadConstraint } from '../pod-info.ts';
import { anyTolerates } from '../taints.ts';
import { matchesNodeSelectorAndAffinity } from './node-affinity.ts';

export const REASON_SPREAD = "node(s) didn't match pod topology spread constraints";
export const REASON_SPREAD_MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)";

/** The node carries the topology key of every constraint. */
export function hasAllKeys(node: NodeInfo, constraints: readonly SpreadConstraint[]): boolean {
  for (const c of constraints) if (node.labels[c.topologyKey] === undefined) return false;
  return true;
}

/** The node counts for constraint `c` under its node inclusion policies. */
export function nodeIncluded(c: SpreadConstraint, pod: PodInfo, node: NodeInfo): boolean {
  if (c.honorNodeAffinity && !matchesNodeSelectorAndAffinity(pod, node)) return false;
  if (c.honorTaints) for (const t of node.hardTaints) if (!anyTolerates(pod.tolerations, t)) return false;
  return true;
}

export function countMatching(node: NodeInfo, selector: Selector, namespace: string): number {
  let n = 0;
  for (const p of node.pods.values()) if (p.namespace === namespace && !p.terminating && selector.matches(p.labels)) n++;
  return n;
}

interface State {
  constraints: readonly SpreadConstraint[];
  /** Per constraint: domain value → matching pods (every eligible domain present, zeros included). */
  counts: Map<string, number>[];
  /** Per constraint: the smallest count, NaN once preemption bookkeeping changed the counts. */
  mins: number[];
  selfMatch: boolean[];
}

function minOf(s: State, i: number): number {
  let m = s.mins[i]!;
  if (Number.isNaN(m)) {
    m = Infinity;
    for (const v of s.counts[i]!.values()) if (v < m) m = v;
    s.mins[i] = m;
  }
  return m;
}

function update(s: State, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: number): void {
  if (other.namespace !== pod.namespace || other.terminating || !hasAllKeys(node, s.constraints)) return;
  s.constraints.forEach((c, i) => {
    if (!nodeIncluded(c, pod, node) || !c.selector.matches(other.labels)) return;
    const v = node.labels[c.topologyKey]!;
    s.counts[i]!.set(v, (s.counts[i]!.get(v) ?? 0) + delta);
    s.mins[i] = NaN;
  });
}

export const PodTopologySpread: FilterPlugin<State> = {
  name: 'PodTopologySpread',

  preFilter(pod: PodInfo, view: ClusterView): State | typeof SKIP {
    const constraints = pod.hardSpread;
    if (!constraints) return SKIP;
    const s: State = {
      constraints,
      counts: constraints.map(() => new Map()),
      mins: constraints.map(() => NaN),
      selfMatch: constraints.map((c) => c.selector.matches(pod.labels)),
    };
    for (const node of view.nodes) {
      if (!hasAllKeys(node, constraints)) continue;
      constraints.forEach((c, i) => {
        if (!nodeIncluded(c, pod, node)) return;
        const v = node.labels[c.topologyKey]!;
        s.counts[i]!.set(v, (s.counts[i]!.get(v) ?? 0) + countMatching(node, c.selector, pod.namespace));
      });
    }
    return s;
  },

  filter(_pod, node, s) {
    const cs = s.constraints;
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i]!;
      const v = node.labels[c.topologyKey];
      if (v === undefined) return REASON_SPREAD_MISSING_LABEL;
      const counts = s.counts[i]!;
      const min = counts.size < c.minDomains ? 0 : minOf(s, i);
      const skew = (counts.get(v) ?? 0) + (s.selfMatch[i] ? 1 : 0) - min;
      if (skew > c.maxSkew) return REASON_SPREAD;
    }
    return undefined;
  },

  resolvable: (reason) => reason === REASON_SPREAD,
  addPod: (s, pod, other, node) => update(s, pod, other, node, 1),
  removePod: (s, pod, other, node) => update(s, pod, other, node, -1),
};
