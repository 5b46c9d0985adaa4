/**
 * The store's binding check: does `pod` still fit on `node` next to `podsOnNode`?
 *
 * Every replica runs it for every binding when the binding's entry applies, so that no
 * node is ever overcommitted even when two decisions race (a stale leader, or two batches
 * deciding on views that did not yet include each other). It must therefore be pure,
 * deterministic and cheap: per-object results are cached (resources.ts), and only what
 * cannot change with time is checked — resources (pod count, cpu, memory, ephemeral
 * storage, extended resources) and host ports. Readiness, cordons, taints and affinity are
 * the scheduler's business at decision time, not a reason to refuse a committed decision.
 *
 * It answers exactly as the scheduler's NodeResourcesFit and NodePorts filters do (they
 * share fitReasons and portsClash), so a decision the scheduler made on a current view
 * always passes.
 */
import type { PlainObject } from '../controllers/types.ts';
import { anyPortClash, emptyUsage, fitReasons, isTerminated, nodeAllocatable, podHostPorts, podRequests } from './resources.ts';

export const REASON_PORTS = "node(s) didn't have free ports for the requested pod ports";

/** Undefined when `pod` fits on `node`; otherwise why not, e.g. `Insufficient cpu`. */
export function bindingFits(node: PlainObject, pod: PlainObject, podsOnNode: Iterable<PlainObject>): string | undefined {
  const want = podRequests(pod);
  const wantPorts = podHostPorts(pod);
  const uid = (pod.metadata as { uid?: unknown } | undefined)?.uid;
  const used = emptyUsage();
  let clash = false;
  for (const other of podsOnNode) {
    if (other === pod || isTerminated(other)) continue;
    if (uid !== undefined && (other.metadata as { uid?: unknown } | undefined)?.uid === uid) continue;
    const r = podRequests(other);
    used.pods++;
    used.cpu += r.cpu;
    used.memory += r.memory;
    used.ephemeral += r.ephemeral;
    if (want.scalar && r.scalar) {
      // Only the resources this pod asks for matter.
      for (const name of want.scalar.keys()) {
        const n = r.scalar.get(name);
        if (n !== undefined) (used.scalar ??= new Map()).set(name, (used.scalar.get(name) ?? 0) + n);
      }
    }
    if (wantPorts && !clash) {
      const theirs = podHostPorts(other);
      if (theirs && anyPortClash(wantPorts, theirs)) clash = true;
    }
  }
  const why = fitReasons(want, nodeAllocatable(node), used);
  if (why === undefined) return clash ? REASON_PORTS : undefined;
  const text = typeof why === 'string' ? why : why.join(', ');
  return clash ? `${text}, ${REASON_PORTS}` : text;
}
