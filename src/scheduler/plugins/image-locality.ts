/**
 * ImageLocality: favours nodes that already have the pod's images, by size, discounted by
 * how few nodes have them (so that one node with a popular image does not attract every
 * pod). Scaled between 23 MB and 1000 MB per container, as kube-scheduler does.
 */
import { MAX_NODE_SCORE, SKIP, type ClusterView, type ScorePlugin } from '../framework.ts';
import type { NodeInfo } from '../node-info.ts';
import type { PodInfo } from '../pod-info.ts';

const MB = 1024 * 1024;
const MIN_THRESHOLD = 23 * MB;
const MAX_CONTAINER_THRESHOLD = 1000 * MB;

interface State {
  /** Per image of the pod: the share of nodes that have it. */
  spread: number[];
}

export class ImageLocality implements ScorePlugin<State> {
  readonly name = 'ImageLocality';
  constructor(readonly weight = 1) {}

  preScore(pod: PodInfo, _nodes: readonly NodeInfo[], _count: number, view: ClusterView): State | typeof SKIP {
    if (view.nodesWithImages === 0 || pod.images.length === 0) return SKIP;
    const total = view.nodes.length;
    return { spread: pod.images.map((im) => (total === 0 ? 0 : view.imageNodeCount(im) / total)) };
  }

  score(pod: PodInfo, node: NodeInfo, s: State): number {
    const images = node.images;
    let sum = 0;
    if (images) pod.images.forEach((im, i) => (sum += (images.get(im) ?? 0) * s.spread[i]!));
    const max = MAX_CONTAINER_THRESHOLD * pod.images.length;
    const clamped = Math.min(max, Math.max(MIN_THRESHOLD, sum));
    return Math.floor((MAX_NODE_SCORE * (clamped - MIN_THRESHOLD)) / (max - MIN_THRESHOLD));
  }
}
