/**
 * The message of an unschedulable pod, as kube-scheduler's FitError prints it: each reason
 * counted over the nodes, rendered "<count> <reason>", sorted as strings (so the order is
 * Kubernetes' own, digits first), e.g.
 *
 *   0/5 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}, 3 Insufficient cpu.
 */

/** kube-scheduler's ErrNoNodesAvailable text, for a cluster with no nodes at all. */
export const NO_NODES_MESSAGE = 'no nodes available to schedule pods';

export function unschedulableMessage(numAllNodes: number, reasons: ReadonlyMap<string, number>): string {
  if (numAllNodes === 0) return NO_NODES_MESSAGE;
  const parts: string[] = [];
  for (const [reason, count] of reasons) parts.push(`${count} ${reason}`);
  parts.sort();
  return parts.length === 0 ? `0/${numAllNodes} nodes are available.` : `0/${numAllNodes} nodes are available: ${parts.join(', ')}.`;
}
