/**
 * InterPodAffinity filter: required pod affinity and anti-affinity by topology domain.
 *
 * PreFilter counts, per topology pair (key, value), the existing pods that
 *  - the incoming pod's affinity terms all select (it must land in a domain with one),
 *  - the incoming pod's anti-affinity terms select (it must not land in their domain),
 *  - have anti-affinity terms selecting the incoming pod (symmetry: it must not land in
 *    their domain either).
 * Filter then reads the node's labels against the counts. A pod whose affinity selects
 * itself may start a group when no matching pod exists anywhere yet.
 */
import { SKIP, type ClusterView, type FilterPlugin } from '../framework.ts';
import type { NodeInfo } from '../node-info.ts';
import { termMatchesPod, type AffinityTerm, type NamespaceLabels, type PodInfo } from '../pod-info.ts';

export const REASON_AFFINITY = "node(s) didn't match pod affinity rules";
export const REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
export const REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";

/** topologyKey → value → count. */
export type TopologyCounts = Map<string, Map<string, number>>;

export function addCount(m: TopologyCounts, key: string, value: string, delta: number): void {
  let byValue = m.get(key);
  if (!byValue) {
    byValue = new Map();
    m.set(key, byValue);
  }
  const n = (byValue.get(value) ?? 0) + delta;
  if (n === 0) byValue.delete(value);
  else byValue.set(value, n);
  if (byValue.size === 0) m.delete(key);
}

interface State {
  nsLabels: NamespaceLabels;
  existingAnti: TopologyCounts;
  affinity: TopologyCounts;
  anti: TopologyCounts;
  /** The incoming pod satisfies its own affinity terms (it may be the first of its group). */
  selfAffinity: boolean;
}

function allTermsMatch(terms: readonly AffinityTerm[], p: PodInfo, ns: NamespaceLabels): boolean {
  for (const t of terms) if (!termMatchesPod(t, p, ns)) return false;
  return true;
}

function update(s: State, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: number): void {
  const labels = node.labels;
  if (other.requiredAntiAffinity) {
    for (const t of other.requiredAntiAffinity) {
      const v = labels[t.topologyKey];
      if (v !== undefined && termMatchesPod(t, pod, s.nsLabels)) addCount(s.existingAnti, t.topologyKey, v, delta);
    }
  }
  if (pod.requiredAffinity && allTermsMatch(pod.requiredAffinity, other, s.nsLabels)) {
    for (const t of pod.requiredAffinity) {
      const v = labels[t.topologyKey];
      if (v !== undefined) addCount(s.affinity, t.topologyKey, v, delta);
    }
  }
  if (pod.requiredAntiAffinity) {
    for (const t of pod.requiredAntiAffinity) {
      const v = labels[t.topologyKey];
      if (v !== undefined && termMatchesPod(t, other, s.nsLabels)) addCount(s.anti, t.topologyKey, v, delta);
    }
  }
}

function inCountedDomain(m: TopologyCounts, key: string, node: NodeInfo): boolean {
  const v = node.labels[key];
  return v !== undefined && (m.get(key)?.get(v) ?? 0) > 0;
}

export const InterPodAffinity: FilterPlugin<State> = {
  name: 'InterPodAffinity',

  preFilter(pod: PodInfo, view: ClusterView): State | typeof SKIP {
    const own = pod.requiredAffinity !== undefined || pod.requiredAntiAffinity !== undefined;
    if (!own && view.podsWithRequiredAntiAffinity === 0) return SKIP;
    const s: State = {
      nsLabels: view.namespaceLabels,
      existingAnti: new Map(),
      affinity: new Map(),
      anti: new Map(),
      selfAffinity: pod.requiredAffinity !== undefined && allTermsMatch(pod.requiredAffinity, pod, view.namespaceLabels),
    };
    for (const node of view.nodes) {
      // Without terms of its own, only nodes holding pods with anti-affinity matter.
      if (!own && node.withRequiredAntiAffinity === 0) continue;
      for (const other of node.pods.values()) if (own || other.requiredAntiAffinity) update(s, pod, other, node, 1);
    }
    return s;
  },

  filter(pod, node, s) {
    if (pod.requiredAffinity) {
      let exist = true;
      for (const t of pod.requiredAffinity) {
        const v = node.labels[t.topologyKey];
        if (v === undefined) return REASON_AFFINITY; // every topology key must be on the node
        if ((s.affinity.get(t.topologyKey)?.get(v) ?? 0) <= 0) exist = false;
      }
      if (!exist && !(s.affinity.size === 0 && s.selfAffinity)) return REASON_AFFINITY;
    }
    if (pod.requiredAntiAffinity) {
      for (const t of pod.requiredAntiAffinity) if (inCountedDomain(s.anti, t.topologyKey, node)) return REASON_ANTI_AFFINITY;
    }
    for (const key of s.existingAnti.keys()) if (inCountedDomain(s.existingAnti, key, node)) return REASON_EXISTING_ANTI_AFFINITY;
    return undefined;
  },

  // Anti-affinity is cured by evicting the pods it is about; a missing affinity partner is not.
  resolvable: (reason) => reason !== REASON_AFFINITY,

  addPod: (s, pod, other, node) => update(s, pod, other, node, 1),
  removePod: (s, pod, other, node) => update(s, pod, other, node, -1),
};
