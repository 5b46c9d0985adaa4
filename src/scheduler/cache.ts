/**
 * The scheduler's node-info cache, kept current from the Pod and Node watches.
 *
 * Every bound, non-terminated pod is counted on its node. A pod the scheduler has decided
 * on but whose binding has not yet been seen is *assumed*: counted on its node at once,
 * so that the next decisions of the same batch see the room it takes, then confirmed when
 * the watch shows it bound, or forgotten when the binding fails (kube-scheduler's
 * AssumePod / ForgetPod). The cache is only ever touched from the event loop's one thread,
 * and one scheduling batch runs synchronously, so it is also the snapshot a batch decides on.
 */
import type { Labels } from '../api/labels.ts';
import type { PlainObject } from '../controllers/types.ts';
import type { ClusterView } from './framework.ts';
import { NodeInfo } from './node-info.ts';
import { PodInfo, sameLabels, type NamespaceLabels } from './pod-info.ts';

interface Placement {
  pod: PodInfo;
  node: NodeInfo;
  /** Decided here, not yet seen bound in the store. */
  assumed: boolean;
}

export type BoundPodChange = 'added' | 'confirmed' | 'updated' | 'unchanged';

export class SchedulerCache implements ClusterView {
  /** Nodes whose object exists, in a stable order (the order filtering walks round-robin). */
  readonly nodes: NodeInfo[] = [];
  private readonly byName = new Map<string, NodeInfo>();
  private readonly placed = new Map<string, Placement>();
  private readonly nominations = new Map<string, NodeInfo>();
  private readonly imageNodes = new Map<string, number>();
  podsWithAffinity = 0;
  podsWithRequiredAntiAffinity = 0;
  nodesWithPreferNoSchedule = 0;
  nodesWithImages = 0;
  nodesNotReady = 0;
  nodesUnschedulable = 0;
  nodesWithHardTaints = 0;
  /** Labels of a namespace, for namespaceSelector in pod affinity terms. */
  namespaceLabels: NamespaceLabels = () => undefined;

  constructor(namespaceLabels?: NamespaceLabels) {
    if (namespaceLabels) this.namespaceLabels = namespaceLabels;
  }

  node(name: string): NodeInfo | undefined {
    const n = this.byName.get(name);
    return n && n.index >= 0 ? n : undefined;
  }

  imageNodeCount(image: string): number {
    return this.imageNodes.get(image) ?? 0;
  }

  /** Adds or updates a node; true when something scheduling depends on changed. */
  setNode(obj: PlainObject): boolean {
    const name = String((obj.metadata as { name?: string } | undefined)?.name ?? '');
    let n = this.byName.get(name);
    if (!n) {
      n = new NodeInfo(name);
      this.byName.set(name, n);
    }
    this.countNode(n, -1);
    const changed = n.setNode(obj);
    this.countNode(n, 1);
    if (n.index < 0) {
      n.index = this.nodes.length;
      this.nodes.push(n);
    }
    return changed;
  }

  removeNode(name: string): void {
    const n = this.byName.get(name);
    if (!n || n.index < 0) return;
    this.countNode(n, -1);
    this.nodes.splice(n.index, 1);
    for (let i = n.index; i < this.nodes.length; i++) this.nodes[i]!.index = i;
    n.index = -1;
    n.node = undefined;
    // Its pods stay counted until they go, in case the node comes back under the same name.
    if (n.pods.size === 0) this.byName.delete(name);
  }

  private countNode(n: NodeInfo, sign: 1 | -1): void {
    if (n.index < 0 && sign === -1) return;
    if (n.node === undefined) return;
    if (n.preferTaints.length > 0) this.nodesWithPreferNoSchedule += sign;
    if (n.hardTaints.length > 0) this.nodesWithHardTaints += sign;
    if (!n.ready) this.nodesNotReady += sign;
    if (n.unschedulable) this.nodesUnschedulable += sign;
    if (n.images) {
      this.nodesWithImages += sign;
      for (const name of n.images.keys()) {
        const c = (this.imageNodes.get(name) ?? 0) + sign;
        if (c <= 0) this.imageNodes.delete(name);
        else this.imageNodes.set(name, c);
      }
    }
  }

  private nodeFor(name: string): NodeInfo {
    let n = this.byName.get(name);
    if (!n) {
      n = new NodeInfo(name);
      this.byName.set(name, n);
    }
    return n;
  }

  private place(pod: PodInfo, node: NodeInfo, assumed: boolean): void {
    node.addPod(pod);
    this.placed.set(pod.uid, { pod, node, assumed });
    if (pod.hasAffinity) this.podsWithAffinity++;
    if (pod.requiredAntiAffinity) this.podsWithRequiredAntiAffinity++;
  }

  private unplace(p: Placement): void {
    p.node.removePod(p.pod);
    this.placed.delete(p.pod.uid);
    if (p.pod.hasAffinity) this.podsWithAffinity--;
    if (p.pod.requiredAntiAffinity) this.podsWithRequiredAntiAffinity--;
    if (p.node.index < 0 && p.node.pods.size === 0) this.byName.delete(p.node.name);
  }

  /**
   * A pod the store shows bound to `spec.nodeName` and not terminated. An assumed pod is
   * confirmed; a status-only change costs a lookup; a spec or label change is recomputed.
   */
  setBoundPod(obj: PlainObject): BoundPodChange {
    const meta = obj.metadata as { uid: string; generation?: number; labels?: Labels };
    const nodeName = (obj.spec as { nodeName: string }).nodeName;
    const cur = this.placed.get(meta.uid);
    if (cur && cur.node.name === nodeName) {
      const wasAssumed = cur.assumed;
      cur.assumed = false;
      if ((meta.generation ?? 0) === cur.pod.generation && sameLabels(meta.labels, cur.pod.labels)) {
        cur.pod.obj = obj;
        return wasAssumed ? 'confirmed' : 'unchanged';
      }
      this.unplace(cur);
      this.place(new PodInfo(obj), this.nodeFor(nodeName), false);
      return 'updated';
    }
    // New, or assumed elsewhere than the store says (the store wins).
    if (cur) this.unplace(cur);
    this.place(new PodInfo(obj), this.nodeFor(nodeName), false);
    return 'added';
  }

  /** The pod is gone or finished; true when it was counted somewhere. */
  removePod(uid: string): boolean {
    this.unnominate(uid);
    const cur = this.placed.get(uid);
    if (!cur) return false;
    this.unplace(cur);
    return true;
  }

  /** Counts a decided pod on its node before the binding commits. */
  assume(pod: PodInfo, nodeName: string): void {
    this.unnominate(pod.uid);
    const cur = this.placed.get(pod.uid);
    if (cur) this.unplace(cur);
    this.place(pod, this.nodeFor(nodeName), true);
  }

  /** The binding failed: stop counting the assumed pod. */
  forget(uid: string): void {
    const cur = this.placed.get(uid);
    if (cur?.assumed) this.unplace(cur);
  }

  isAssumed(uid: string): boolean {
    return this.placed.get(uid)?.assumed === true;
  }

  /** The node a pod is counted on (bound or assumed). */
  placement(uid: string): NodeInfo | undefined {
    return this.placed.get(uid)?.node;
  }

  /** Keeps room on `nodeName` for a preemptor (lower-priority pods then do not take it). */
  nominate(pod: PodInfo, nodeName: string): void {
    this.unnominate(pod.uid);
    const n = this.byName.get(nodeName);
    if (!n) return;
    n.addNominated(pod);
    this.nominations.set(pod.uid, n);
  }

  unnominate(uid: string): void {
    const n = this.nominations.get(uid);
    if (!n) return;
    n.removeNominated(uid);
    this.nominations.delete(uid);
  }

  nominatedNode(uid: string): string | undefined {
    return this.nominations.get(uid)?.name;
  }

  /** Pods counted (bound and assumed). */
  get podCount(): number {
    return this.placed.size;
  }
}
