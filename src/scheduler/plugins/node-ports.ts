/**
 * NodePorts: a host port (protocol, port, address) can be bound by one pod per node; a
 * port on 0.0.0.0 clashes with the same port on any address. Evicting the holder frees it.
 */
import { REASON_PORTS } from '../fit.ts';
import { SKIP, type FilterPlugin } from '../framework.ts';
import { portsClash } from '../resources.ts';

export { REASON_PORTS };

export const NodePorts: FilterPlugin = {
  name: 'NodePorts',
  preFilter: (pod) => (pod.hostPorts ? undefined : SKIP),
  filter(pod, node) {
    const used = node.ports;
    if (!used) return undefined;
    for (const want of pod.hostPorts!) for (const o of used) if (portsClash(want, o.port)) return REASON_PORTS;
    return undefined;
  },
  resolvable: () => true,
};
