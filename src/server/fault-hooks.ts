/**
 * Test-only fault hooks for the chaos runner (bench/chaos). A replica gets them only when
 * started with the hidden flag `berth server --fault-hooks LIST`; without it none of this
 * exists (no wrapped clock, no listener), so the hooks cost nothing in production.
 *
 * LIST is comma separated:
 *   ipc          take fault commands over the IPC channel of a forked replica
 *   lease-reads  serve linearizable reads from the leader's lease (Raft readOnlyOption
 *                'lease') instead of a ReadIndex round, so that clock faults can be
 *                checked against lease reads
 *
 * Commands (`{ chaosFault: seq, cmd }`, answered with `{ chaosFaultReply: seq, ok, ... }`):
 *   fsyncDelay { ms }   every synced log write takes `ms` longer (a slow disk)
 *   clockJump { ms }    the replica's clock jumps: forward, the Raft ticks that `ms` holds
 *                       fire at once (and now() moves on by `ms`); backward (negative),
 *                       the ticks stop for |ms| (a monotonic tick count cannot go back,
 *                       so the missing time is taken out of what comes next)
 *   clockRate { rate }  ticks run `rate` times as fast as real time (0 stops them)
 *   ping                answers with the current settings
 *
 * The clock matters because Raft's leader lease is counted in ticks (src/raft/raft.ts,
 * promisedUntil and leaseValid): a follower that acknowledged a lease heartbeat refuses
 * to vote for electionTick ticks of ITS clock, and the leader trusts the acknowledgement
 * for electionTick - 2 ticks of ITS clock. A follower whose clock jumps forward, or a
 * leader whose clock stalls, breaks the assumption that both count about the same time.
 */
import type { Clock, Config } from '../raft/index.ts';

export type FaultCommand =
  | { type: 'fsyncDelay'; ms: number }
  | { type: 'clockJump'; ms: number }
  | { type: 'clockRate'; rate: number }
  | { type: 'ping' };

export interface FaultRequest {
  chaosFault: number;
  cmd: FaultCommand;
}

export interface FaultSettings {
  fsyncDelayMs: number;
  clockRate: number;
  clockOffsetMs: number;
  leaseReads: boolean;
}

export interface FaultReply {
  chaosFaultReply: number;
  ok: boolean;
  error?: string;
  settings?: FaultSettings;
}

interface Interval {
  fn: () => void;
  ms: number;
  /** Ticks owed (fractional, at rates other than 1). */
  owed: number;
  handle: NodeJS.Timeout | undefined;
}

/** At most this many ticks fire in one go (a jump of hours must not hang the replica). */
const MAX_TICKS_AT_ONCE = 5000;

/** A Clock whose interval timers (the Raft tick) can be jumped, stopped and sped up. */
export class FaultClock implements Clock {
  private offset = 0;
  private rate = 1;
  private stoppedUntil = 0;
  private readonly intervals = new Set<Interval>();

  now(): number {
    return performance.now() + this.offset;
  }

  setInterval(fn: () => void, ms: number): unknown {
    const iv: Interval = { fn, ms, owed: 0, handle: undefined };
    iv.handle = setInterval(() => this.beat(iv), ms);
    this.intervals.add(iv);
    return iv;
  }

  clearInterval(h: unknown): void {
    const iv = h as Interval;
    clearInterval(iv.handle);
    this.intervals.delete(iv);
  }

  setTimeout(fn: () => void, ms: number): unknown {
    return setTimeout(fn, ms);
  }

  clearTimeout(h: unknown): void {
    clearTimeout(h as NodeJS.Timeout);
  }

  jump(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError(`clockJump: bad ms ${ms}`);
    if (ms < 0) {
      this.stoppedUntil = Math.max(this.stoppedUntil, performance.now()) - ms;
      return;
    }
    this.offset += ms;
    for (const iv of [...this.intervals]) {
      const n = Math.min(MAX_TICKS_AT_ONCE, Math.floor(ms / iv.ms));
      for (let i = 0; i < n && this.intervals.has(iv); i++) iv.fn();
    }
  }

  setRate(rate: number): void {
    if (!Number.isFinite(rate) || rate < 0 || rate > 100) throw new RangeError(`clockRate: bad rate ${rate}`);
    this.rate = rate;
  }

  get settings(): { clockRate: number; clockOffsetMs: number } {
    return { clockRate: this.rate, clockOffsetMs: this.offset };
  }

  private beat(iv: Interval): void {
    if (performance.now() < this.stoppedUntil) return;
    iv.owed += this.rate;
    let n = 0;
    while (iv.owed >= 1 && n < MAX_TICKS_AT_ONCE && this.intervals.has(iv)) {
      iv.owed -= 1;
      n++;
      iv.fn();
    }
  }
}

export class FaultHooks {
  readonly clock = new FaultClock();
  private logStore: { setFsyncDelay(ms: number): void } | undefined;
  private fsyncDelayMs = 0;

  private constructor(
    readonly ipc: boolean,
    readonly leaseReads: boolean,
  ) {}

  /** From the --fault-hooks value; throws on an unknown item. */
  static parse(spec: string): FaultHooks {
    const items = spec.split(',').map((s) => s.trim()).filter(Boolean);
    for (const it of items) {
      if (it !== 'ipc' && it !== 'lease-reads') throw new Error(`--fault-hooks: unknown hook "${it}" (known: ipc, lease-reads)`);
    }
    return new FaultHooks(items.includes('ipc'), items.includes('lease-reads'));
  }

  /** Raft settings the hooks need (lease reads require checkQuorum, which is on by default). */
  raftConfig(): Partial<Omit<Config, 'id' | 'random' | 'applied' | 'logger'>> {
    return this.leaseReads ? { readOnlyOption: 'lease', checkQuorum: true } : {};
  }

  attachLogStore(ls: { setFsyncDelay(ms: number): void }): void {
    this.logStore = ls;
    ls.setFsyncDelay(this.fsyncDelayMs);
  }

  get settings(): FaultSettings {
    return { fsyncDelayMs: this.fsyncDelayMs, leaseReads: this.leaseReads, ...this.clock.settings };
  }

  apply(cmd: FaultCommand): FaultSettings {
    switch (cmd.type) {
      case 'fsyncDelay':
        if (!Number.isFinite(cmd.ms) || cmd.ms < 0 || cmd.ms > 60_000) throw new RangeError(`fsyncDelay: bad ms ${cmd.ms}`);
        this.fsyncDelayMs = cmd.ms;
        this.logStore?.setFsyncDelay(cmd.ms);
        break;
      case 'clockJump':
        this.clock.jump(cmd.ms);
        break;
      case 'clockRate':
        this.clock.setRate(cmd.rate);
        break;
      case 'ping':
        break;
      default:
        throw new Error(`unknown fault command ${JSON.stringify(cmd)}`);
    }
    return this.settings;
  }

  /** Take commands from the parent process (only with the `ipc` hook). */
  listen(proc: NodeJS.Process = process): void {
    if (!this.ipc || !proc.send) return;
    proc.on('message', (m: unknown) => {
      if (!m || typeof m !== 'object' || typeof (m as FaultRequest).chaosFault !== 'number') return;
      const req = m as FaultRequest;
      let reply: FaultReply;
      try {
        reply = { chaosFaultReply: req.chaosFault, ok: true, settings: this.apply(req.cmd) };
      } catch (e) {
        reply = { chaosFaultReply: req.chaosFault, ok: false, error: (e as Error).message };
      }
      proc.send?.(reply);
    });
  }
}
