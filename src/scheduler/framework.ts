/**
 * The scheduling framework: plugin interfaces and one scheduling cycle over them
 * (kube-scheduler's PreFilter → Filter → PreScore → Score → NormalizeScore → select).
 *
 * Filter plugins answer per node with undefined (fits) or a reason string; the reasons of
 * the nodes that failed are counted for the unschedulable message, and the nodes whose
 * failure pods could be evicted to cure are kept for preemption. Score plugins give 0..100
 * per feasible node; totals are the weighted sum.
 *
 * At scale only a sample of nodes is examined (percentageOfNodesToScore): filtering stops
 * once enough feasible nodes are found, and the next cycle starts where this one stopped,
 * so every node gets its turn. Scratch arrays are reused between cycles: a cycle allocates
 * nothing for a pod without affinity or spreading constraints.
 */
import type { NodeInfo } from './node-info.ts';
import type { NamespaceLabels, PodInfo } from './pod-info.ts';
import { unschedulableMessage } from './message.ts';

/** Returned by preFilter / preScore when the plugin has nothing to do for this pod. */
export const SKIP: unique symbol = Symbol('skip');
export type Skip = typeof SKIP;

/** undefined: the node passes. Otherwise the reason, or several (NodeResourcesFit short of more than one resource). */
export type FilterResult = string | readonly string[] | undefined;

export const MAX_NODE_SCORE = 100;

/** What plugins may read about the whole cluster (the cache implements it). */
export interface ClusterView {
  readonly nodes: readonly NodeInfo[];
  node(name: string): NodeInfo | undefined;
  readonly podsWithAffinity: number;
  readonly podsWithRequiredAntiAffinity: number;
  readonly nodesWithPreferNoSchedule: number;
  readonly nodesWithImages: number;
  // Counters that let node-level filters skip a whole cycle when no node could fail them.
  readonly nodesNotReady: number;
  readonly nodesUnschedulable: number;
  readonly nodesWithHardTaints: number;
  imageNodeCount(image: string): number;
  namespaceLabels: NamespaceLabels;
}

export interface FilterPlugin<S = unknown> {
  readonly name: string;
  /** Once per pod before filtering: state for filter(), or SKIP when there is nothing to check. */
  preFilter?(pod: PodInfo, view: ClusterView): S | Skip;
  filter(pod: PodInfo, node: NodeInfo, state: S): FilterResult;
  /** Whether evicting pods could cure a failure with this reason (absent: never). */
  resolvable?(reason: string): boolean;
  /** Keep the pre-filter state right while preemption takes pods off a node and puts them back. */
  addPod?(state: S, pod: PodInfo, other: PodInfo, node: NodeInfo): void;
  removePod?(state: S, pod: PodInfo, other: PodInfo, node: NodeInfo): void;
}

export interface ScorePlugin<S = unknown> {
  readonly name: string;
  readonly weight: number;
  /** Once per pod over the feasible nodes: state for score(), or SKIP (the plugin then adds nothing). */
  preScore?(pod: PodInfo, nodes: readonly NodeInfo[], count: number, view: ClusterView): S | Skip;
  score(pod: PodInfo, node: NodeInfo, state: S): number;
  /** Rescale the raw scores of the `count` feasible nodes to 0..100 in place. */
  normalize?(scores: Float64Array, count: number, state: S, nodes: readonly NodeInfo[]): void;
}

/** Why the last pod fit nowhere. Reused between cycles. */
export class Diagnosis {
  numAllNodes = 0;
  /** Reason → number of nodes that gave it. */
  readonly reasons = new Map<string, number>();
  /** Nodes that failed only for reasons evicting pods could cure. */
  readonly resolvable: NodeInfo[] = [];
  /** Bit set of the filter plugins that rejected some node (decides which cluster events retry the pod). */
  rejectors = 0;

  reset(numAllNodes: number): void {
    this.numAllNodes = numAllNodes;
    this.reasons.clear();
    this.resolvable.length = 0;
    this.rejectors = 0;
  }

  message(): string {
    return unschedulableMessage(this.numAllNodes, this.reasons);
  }
}

const MIN_FEASIBLE_NODES = 100;
const MIN_FEASIBLE_PERCENTAGE = 5;
const BASE_PERCENTAGE = 50;

/**
 * kube-scheduler's numFeasibleNodesToFind: all nodes below 100; otherwise the configured
 * percentage, or adaptively 50% − nodes/125 (at least 5%), and never fewer than 100.
 */
export function numFeasibleNodesToFind(numAllNodes: number, percentage: number): number {
  if (numAllNodes < MIN_FEASIBLE_NODES) return numAllNodes;
  let p = percentage;
  if (p <= 0) {
    p = BASE_PERCENTAGE - Math.floor(numAllNodes / 125);
    if (p < MIN_FEASIBLE_PERCENTAGE) p = MIN_FEASIBLE_PERCENTAGE;
  }
  if (p >= 100) return numAllNodes;
  const n = Math.floor((numAllNodes * p) / 100);
  return n < MIN_FEASIBLE_NODES ? MIN_FEASIBLE_NODES : n;
}

/** A small seeded PRNG (mulberry32) for tie-breaking: deterministic for a given seed. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FrameworkOptions {
  /** ClusterConfig.percentageOfNodesToScore (0 = adaptive). */
  percentageOfNodesToScore?: number;
  /** Tie-breaking among equally scored nodes. */
  random?: () => number;
}

export class Framework {
  readonly filters: readonly FilterPlugin[];
  readonly scores: readonly ScorePlugin[];
  readonly diagnosis = new Diagnosis();
  private readonly percentage: number;
  private readonly random: () => number;
  // The current pod's active filters and their states (reused).
  private readonly active: FilterPlugin[] = [];
  private readonly activeBits: number[] = [];
  private readonly states: unknown[] = [];
  private readonly feasible: NodeInfo[] = [];
  private totals = new Float64Array(128);
  private scratch = new Float64Array(128);
  private nextStart = 0;

  constructor(filters: readonly FilterPlugin[], scores: readonly ScorePlugin[], opts: FrameworkOptions = {}) {
    if (filters.length > 30) throw new Error('at most 30 filter plugins (rejector bit set)');
    this.filters = filters;
    this.scores = scores;
    this.percentage = opts.percentageOfNodesToScore ?? 0;
    this.random = opts.random ?? seededRandom(1);
  }

  /** The rejector bits of the named filter plugins. */
  bits(...names: string[]): number {
    let b = 0;
    this.filters.forEach((f, i) => {
      if (names.includes(f.name)) b |= 1 << i;
    });
    return b;
  }

  /** PreFilter for `pod`: sets up the states filter() and fits() use. */
  prepare(pod: PodInfo, view: ClusterView): void {
    this.diagnosis.reset(view.nodes.length);
    this.active.length = 0;
    this.activeBits.length = 0;
    this.states.length = 0;
    for (let i = 0; i < this.filters.length; i++) {
      const f = this.filters[i]!;
      let s: unknown = undefined;
      if (f.preFilter) {
        s = f.preFilter(pod, view);
        if (s === SKIP) continue;
      }
      this.active.push(f);
      this.activeBits.push(1 << i);
      this.states.push(s);
    }
  }

  /** Does `pod` pass every active filter on `node` (after prepare)? */
  fits(pod: PodInfo, node: NodeInfo): boolean {
    const n = this.active.length;
    for (let j = 0; j < n; j++) if (this.active[j]!.filter(pod, node, this.states[j]) !== undefined) return false;
    return true;
  }

  /** prepare()'s state of each active filter, for preemption's add/remove bookkeeping. */
  forEachActive(fn: (f: FilterPlugin, state: unknown) => void): void {
    for (let j = 0; j < this.active.length; j++) fn(this.active[j]!, this.states[j]);
  }

  /**
   * One scheduling cycle: the node to put `pod` on, or undefined (see `diagnosis`).
   * The pod's nominated node, when it still fits, is taken without looking further
   * (it is where preemption made room for it).
   */
  schedule(pod: PodInfo, view: ClusterView, nominated?: string): NodeInfo | undefined {
    this.prepare(pod, view);
    const nodes = view.nodes;
    const all = nodes.length;
    if (all === 0) return undefined;
    if (nominated) {
      const n = view.node(nominated);
      if (n && this.fits(pod, n)) return n;
    }
    const count = this.findFeasible(pod, nodes);
    if (count === 0) return undefined;
    if (count === 1) return this.feasible[0];
    return this.select(pod, count, view);
  }

  private findFeasible(pod: PodInfo, nodes: readonly NodeInfo[]): number {
    const all = nodes.length;
    const want = numFeasibleNodesToFind(all, this.percentage);
    const feasible = this.feasible;
    const active = this.active;
    const states = this.states;
    const nf = active.length;
    const d = this.diagnosis;
    let found = 0;
    const start = this.nextStart % all;
    let processed = 0;
    for (; processed < all && found < want; processed++) {
      const node = nodes[(start + processed) % all]!;
      let failed = -1;
      let why: FilterResult;
      for (let j = 0; j < nf; j++) {
        why = active[j]!.filter(pod, node, states[j]);
        if (why !== undefined) {
          failed = j;
          break;
        }
      }
      if (failed < 0) {
        feasible[found++] = node;
        continue;
      }
      d.rejectors |= this.activeBits[failed]!;
      const plugin = active[failed]!;
      const first = typeof why === 'string' ? why : why![0]!;
      if (typeof why === 'string') d.reasons.set(why, (d.reasons.get(why) ?? 0) + 1);
      else for (const r of why!) d.reasons.set(r, (d.reasons.get(r) ?? 0) + 1);
      if (plugin.resolvable?.(first)) d.resolvable.push(node);
    }
    this.nextStart = (start + processed) % all;
    return found;
  }

  private select(pod: PodInfo, count: number, view: ClusterView): NodeInfo {
    if (this.totals.length < count) {
      this.totals = new Float64Array(count * 2);
      this.scratch = new Float64Array(count * 2);
    }
    const totals = this.totals;
    const scratch = this.scratch;
    const feasible = this.feasible;
    totals.fill(0, 0, count);
    for (const sp of this.scores) {
      let state: unknown = undefined;
      if (sp.preScore) {
        state = sp.preScore(pod, feasible, count, view);
        if (state === SKIP) continue;
      }
      for (let i = 0; i < count; i++) scratch[i] = sp.score(pod, feasible[i]!, state);
      sp.normalize?.(scratch, count, state, feasible);
      const w = sp.weight;
      for (let i = 0; i < count; i++) totals[i] += scratch[i]! * w;
    }
    // Highest total; ties broken uniformly at random (reservoir sampling, as kube-scheduler).
    let best = 0;
    let bestScore = totals[0]!;
    let ties = 1;
    for (let i = 1; i < count; i++) {
      const s = totals[i]!;
      if (s > bestScore) {
        best = i;
        bestScore = s;
        ties = 1;
      } else if (s === bestScore) {
        ties++;
        if (this.random() * ties < 1) best = i;
      }
    }
    return feasible[best]!;
  }
}
