import type { Message, NodeId } from '../../src/raft/types.ts';
import type { Rng } from './rng.ts';

/**
 * The simulated network: decides, for every message sent, whether it is dropped, how
 * long it takes and whether it is duplicated. Delays are drawn independently per
 * message, so messages between the same pair of nodes overtake each other (reordering).
 * Partitions are sets of blocked one-way links; a symmetric partition blocks both ways.
 *
 * Time is in simulation units; a Raft tick is {@link TICK} units.
 */
export const TICK = 10;

export interface NetParams {
  /** Probability that a message is lost. */
  drop: number;
  /** Probability that a message is delivered twice. */
  dup: number;
  /** Per-message delay is uniform in [minDelay, maxDelay] units... */
  minDelay: number;
  maxDelay: number;
  /** ...except, with this probability, uniform in [maxDelay, longDelay] (a straggler). */
  longP: number;
  longDelay: number;
}

export const CALM: NetParams = { drop: 0, dup: 0, minDelay: 1, maxDelay: 4, longP: 0, longDelay: 4 };

export interface Fault {
  id: number;
  what: string;
  links: number[];
}

export class Network {
  params: NetParams = { ...CALM };
  /** Blocked one-way links (key from·4096+to) with the number of faults blocking each. */
  private blocked = new Map<number, number>();
  private faults = new Map<number, Fault>();
  private nextFault = 1;

  constructor(private readonly rng: Rng) {}

  static key(from: NodeId, to: NodeId): number {
    return from * 4096 + to;
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(Network.key(from, to));
  }

  /**
   * The fate of one message: the delays of its copies (empty when it is dropped).
   * A blocked link drops the message at send time; delivery re-checks the link.
   */
  route(m: Message, sender: NodeId): number[] {
    if (this.isBlocked(sender, m.to)) return [];
    const p = this.params;
    if (this.rng.chance(p.drop)) return [];
    const out = [this.delay()];
    if (this.rng.chance(p.dup)) out.push(this.delay());
    return out;
  }

  private delay(): number {
    const p = this.params;
    if (this.rng.chance(p.longP)) return this.rng.range(p.maxDelay, p.longDelay);
    return this.rng.range(p.minDelay, p.maxDelay);
  }

  /** Block the given one-way links until heal(id). Returns the fault id. */
  addFault(what: string, links: [NodeId, NodeId][]): Fault {
    const f: Fault = { id: this.nextFault++, what, links: links.map(([a, b]) => Network.key(a, b)) };
    for (const k of f.links) this.blocked.set(k, (this.blocked.get(k) ?? 0) + 1);
    this.faults.set(f.id, f);
    return f;
  }

  heal(id: number): Fault | undefined {
    const f = this.faults.get(id);
    if (!f) return undefined;
    this.faults.delete(id);
    for (const k of f.links) {
      const n = (this.blocked.get(k) ?? 0) - 1;
      if (n <= 0) this.blocked.delete(k);
      else this.blocked.set(k, n);
    }
    return f;
  }

  healAll(): void {
    this.faults.clear();
    this.blocked.clear();
  }

  activeFaults(): Fault[] {
    return [...this.faults.values()];
  }
}

/** Links that cut `a` from `b` in both directions. */
export function splitLinks(a: readonly NodeId[], b: readonly NodeId[]): [NodeId, NodeId][] {
  const out: [NodeId, NodeId][] = [];
  for (const x of a) for (const y of b) if (x !== y) out.push([x, y], [y, x]);
  return out;
}

/** Links from every node of `a` to every node of `b` (one way). */
export function oneWayLinks(a: readonly NodeId[], b: readonly NodeId[]): [NodeId, NodeId][] {
  const out: [NodeId, NodeId][] = [];
  for (const x of a) for (const y of b) if (x !== y) out.push([x, y]);
  return out;
}
