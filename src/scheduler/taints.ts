/**
 * Taints and tolerations, as core/v1's Toleration.ToleratesTaint: an empty effect
 * tolerates every effect, an empty key (with Exists) every key; Equal (the default)
 * compares values, Exists ignores them.
 */
import type { Taint, Toleration } from '../api/types.ts';

export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? 'Equal') {
    case 'Exists':
      return true;
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

export function anyTolerates(list: readonly Toleration[], taint: Taint): boolean {
  for (const t of list) if (tolerates(t, taint)) return true;
  return false;
}

/** The taint a cordoned node is treated as having (NodeUnschedulable lets pods that tolerate it through). */
export const UNSCHEDULABLE_TAINT: Taint = Object.freeze({ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' });
