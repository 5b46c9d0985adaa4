/**
 * The default plugin set and its order, as kube-scheduler's default profile: cheap
 * node-level filters first (each node stops at its first failure), the pod-relation
 * filters last; score weights are kube-scheduler's defaults.
 */
import type { ClusterConfig } from '../../controllers/types.ts';
import type { FilterPlugin, ScorePlugin } from '../framework.ts';
import { BalancedAllocation } from './balanced-allocation.ts';
import { ImageLocality } from './image-locality.ts';
import { InterPodAffinity } from './inter-pod-affinity.ts';
import { InterPodAffinityScore } from './inter-pod-affinity-score.ts';
import { NodeAffinity } from './node-affinity.ts';
import { NodePorts } from './node-ports.ts';
import { NodeReady } from './node-ready.ts';
import { NodeResourcesFit } from './node-resources-fit.ts';
import { NodeUnschedulable } from './node-unschedulable.ts';
import { PodTopologySpread } from './pod-topology-spread.ts';
import { PodTopologySpreadScore } from './pod-topology-spread-score.ts';
import { TaintToleration } from './taint-toleration.ts';

export interface PluginSet {
  filters: FilterPlugin[];
  scores: ScorePlugin[];
}

export function defaultPlugins(config: Pick<ClusterConfig, 'scoringStrategy'>): PluginSet {
  const fit = new NodeResourcesFit(config.scoringStrategy);
  const taints = new TaintToleration();
  const nodeAffinity = new NodeAffinity();
  return {
    filters: [NodeReady, NodeUnschedulable, taints, nodeAffinity, NodePorts, fit, PodTopologySpread, InterPodAffinity],
    scores: [taints, nodeAffinity, fit, new BalancedAllocation(), new InterPodAffinityScore(), new PodTopologySpreadScore(), new ImageLocality()],
  };
}

export { BalancedAllocation, ImageLocality, InterPodAffinity, InterPodAffinityScore, NodeAffinity, NodePorts, NodeReady, NodeResourcesFit, NodeUnschedulable, PodTopologySpread, PodTopologySpreadScore, TaintToleration };
export { REASON_NOT_READY } from './node-ready.ts';
export { REASON_UNSCHEDULABLE } from './node-unschedulable.ts';
export { REASON_NODE_AFFINITY } from './node-affinity.ts';
export { REASON_PORTS } from './node-ports.ts';
export { REASON_AFFINITY, REASON_ANTI_AFFINITY, REASON_EXISTING_ANTI_AFFINITY } from './inter-pod-affinity.ts';
export { REASON_SPREAD, REASON_SPREAD_MISSING_LABEL } from './pod-topology-spread.ts';
