/**
 * NodeUnschedulable: a cordoned node (spec.unschedulable) takes only pods that tolerate
 * the node.kubernetes.io/unschedulable:NoSchedule taint (as DaemonSet pods do).
 */
import { SKIP, type FilterPlugin } from '../framework.ts';
import { anyTolerates, UNSCHEDULABLE_TAINT } from '../taints.ts';

export const REASON_UNSCHEDULABLE = 'node(s) were unschedulable';

export const NodeUnschedulable: FilterPlugin = {
  name: 'NodeUnschedulable',
  preFilter: (_pod, view) => (view.nodesUnschedulable === 0 ? SKIP : undefined),
  filter: (pod, node) => (!node.unschedulable || anyTolerates(pod.tolerations, UNSCHEDULABLE_TAINT) ? undefined : REASON_UNSCHEDULABLE),
};
