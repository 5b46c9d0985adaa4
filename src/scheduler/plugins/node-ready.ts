/**
 * NodeReady: only nodes whose Ready condition is True take new pods. (Kubernetes does this
 * with the node.kubernetes.io/not-ready taint; berth checks the condition itself, so a
 * node is usable the moment its agent reports Ready.)
 */
import { SKIP, type FilterPlugin } from '../framework.ts';

export const REASON_NOT_READY = 'node(s) were not ready';

export const NodeReady: FilterPlugin = {
  name: 'NodeReady',
  // Every node ready: nothing to check this cycle.
  preFilter: (_pod, view) => (view.nodesNotReady === 0 ? SKIP : undefined),
  filter: (_pod, node) => (node.ready ? undefined : REASON_NOT_READY),
};
