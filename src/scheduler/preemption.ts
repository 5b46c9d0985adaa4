/**
 * Preemption (kube-scheduler's DefaultPreemption PostFilter), run when a pod fits nowhere.
 *
 * Only nodes that failed for reasons eviction can cure are tried. On each, every pod of
 * lower priority is taken off (in the cache and in the filters' pre-filter state); if the
 * pod then fits, the victims are put back one by one, most important first, and each one
 * whose return still leaves room is spared. Of the candidates, the node whose most
 * important victim has the lowest priority wins, then the one with fewest victims, then
 * the lowest priority sum, then the first tried. Everything is put back before returning:
 * the scheduler then deletes the victims and nominates the node for the pod.
 */
import type { Framework } from './framework.ts';
import type { SchedulerCache } from './cache.ts';
import type { NodeInfo } from './node-info.ts';
import type { PodInfo } from './pod-info.ts';

export interface PreemptionResult {
  node: NodeInfo;
  victims: PodInfo[];
}

/** kube-scheduler's candidate limits: at least 100 nodes or 10% of them. */
const MIN_CANDIDATES_ABSOLUTE = 100;
const MIN_CANDIDATES_PERCENTAGE = 10;

/** More important first: higher priority, then the older (it has been running longer). */
function moreImportant(a: PodInfo, b: PodInfo): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.createdMs !== b.createdMs) return a.createdMs - b.createdMs;
  return a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0;
}

/** Whether `pod` may preempt at all right now. */
export function mayPreempt(pod: PodInfo, cache: SchedulerCache): boolean {
  if (pod.preemptionPolicy === 'Never') return false;
  // Already made room somewhere and the victims are still terminating: wait for them.
  const nominated = cache.nominatedNode(pod.uid) ?? pod.nominatedNodeName;
  const node = nominated ? cache.node(nominated) : undefined;
  if (node) for (const p of node.pods.values()) if (p.priority < pod.priority && p.terminating) return false;
  return true;
}

function take(fw: Framework, pod: PodInfo, victim: PodInfo, node: NodeInfo): void {
  node.removePod(victim);
  fw.forEachActive((f, s) => f.removePod?.(s, pod, victim, node));
}

function giveBack(fw: Framework, pod: PodInfo, victim: PodInfo, node: NodeInfo): void {
  node.addPod(victim);
  fw.forEachActive((f, s) => f.addPod?.(s, pod, victim, node));
}

/** The fewest lower-priority pods on `node` whose eviction lets `pod` fit, or undefined. */
function victimsOn(fw: Framework, pod: PodInfo, node: NodeInfo): PodInfo[] | undefined {
  const lower: PodInfo[] = [];
  for (const p of node.pods.values()) if (p.priority < pod.priority && !p.terminating) lower.push(p);
  if (lower.length === 0) return undefined;
  for (const p of lower) take(fw, pod, p, node);
  if (!fw.fits(pod, node)) {
    for (const p of lower) giveBack(fw, pod, p, node);
    return undefined;
  }
  lower.sort(moreImportant);
  const victims: PodInfo[] = [];
  for (const p of lower) {
    giveBack(fw, pod, p, node);
    if (!fw.fits(pod, node)) {
      take(fw, pod, p, node);
      victims.push(p);
    }
  }
  for (const p of victims) giveBack(fw, pod, p, node);
  return victims;
}

function better(a: PodInfo[], b: PodInfo[]): boolean {
  const ha = a[0]!.priority;
  const hb = b[0]!.priority;
  if (ha !== hb) return ha < hb;
  if (a.length !== b.length) return a.length < b.length;
  return prioritySum(a) < prioritySum(b);
}

function prioritySum(v: readonly PodInfo[]): number {
  let s = 0;
  for (const p of v) s += p.priority;
  return s;
}

/**
 * Right after `fw.schedule(pod)` failed (its pre-filter state and diagnosis are the
 * pod's): where to make room and whom to evict, or undefined when preemption cannot help.
 */
export function findPreemption(fw: Framework, pod: PodInfo, cache: SchedulerCache, random: () => number): PreemptionResult | undefined {
  const nodes = fw.diagnosis.resolvable;
  if (nodes.length === 0 || !mayPreempt(pod, cache)) return undefined;
  const limit = Math.max(MIN_CANDIDATES_ABSOLUTE, Math.floor((cache.nodes.length * MIN_CANDIDATES_PERCENTAGE) / 100));
  // Start at a random offset so that concurrent preemptors spread over the candidates.
  const offset = Math.floor(random() * nodes.length);
  let best: PreemptionResult | undefined;
  let found = 0;
  for (let i = 0; i < nodes.length && found < limit; i++) {
    const node = nodes[(offset + i) % nodes.length]!;
    const victims = victimsOn(fw, pod, node);
    if (!victims || victims.length === 0) continue;
    found++;
    // victims are in importance order: victims[0] is the highest priority evicted.
    if (!best || better(victims, best.victims)) best = { node, victims };
  }
  return best;
}
