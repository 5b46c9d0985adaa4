/**
 * A small seeded PRNG (mulberry32) for the Raft simulation. Every random choice in a
 * simulated run comes from one of these, all derived from the run's seed, so a seed
 * replays the same run bit for bit. Never use Math.random in the simulation.
 */
export class Rng {
  private s: number;

  constructor(seed: number) {
    // Scramble the seed once so that neighbouring seeds start far apart.
    this.s = mix32(seed >>> 0) || 0x9e3779b9;
  }

  /** Uniform 32-bit unsigned integer. */
  next32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.next32() / 4294967296;
  }

  /** Uniform integer in [0, n). n must be a positive integer (n ≤ 2^32). */
  int(n: number): number {
    if (!(n > 0)) throw new Error(`rng.int: bad bound ${n}`);
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('rng.pick: empty');
    return xs[this.int(xs.length)]!;
  }

  /** Pick by weight: `[[weight, value], ...]`. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of choices) total += w;
    let x = this.float() * total;
    for (const [w, v] of choices) {
      if (x < w) return v;
      x -= w;
    }
    return choices[choices.length - 1]![1];
  }

  /** A fresh generator whose stream depends on this one's (for per-node randomness). */
  fork(): Rng {
    return new Rng(this.next32());
  }
}

/** A 32-bit integer finalizer (from murmur3). */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** An incremental 32-bit hash (FNV-1a style over 32-bit words) for trace fingerprints. */
export class TraceHash {
  h = 0x811c9dc5;

  int(x: number): void {
    // Fold in both halves so that values beyond 2^32 still count.
    this.h = Math.imul(this.h ^ (x >>> 0), 0x01000193) >>> 0;
    this.h = Math.imul(this.h ^ Math.floor(x / 4294967296), 0x01000193) >>> 0;
  }

  str(s: string): void {
    for (let i = 0; i < s.length; i++) this.h = Math.imul(this.h ^ s.charCodeAt(i), 0x01000193) >>> 0;
    this.int(s.length);
  }

  hex(): string {
    return this.h.toString(16).padStart(8, '0');
  }
}
