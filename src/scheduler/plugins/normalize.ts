/**
 * kube-scheduler's DefaultNormalizeScore: scale raw scores to 0..100 by the highest one;
 * `reverse` turns "more is worse" counts (untolerated PreferNoSchedule taints) into scores.
 */
import { MAX_NODE_SCORE } from '../framework.ts';

export function defaultNormalize(scores: Float64Array, count: number, reverse: boolean): void {
  let max = 0;
  for (let i = 0; i < count; i++) if (scores[i]! > max) max = scores[i]!;
  if (max === 0) {
    if (reverse) scores.fill(MAX_NODE_SCORE, 0, count);
    return;
  }
  for (let i = 0; i < count; i++) {
    const s = Math.floor((MAX_NODE_SCORE * scores[i]!) / max);
    scores[i] = reverse ? MAX_NODE_SCORE - s : s;
  }
}
