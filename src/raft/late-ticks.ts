/**
 * Late ticks: a Raft tick that fires long after the one before means the process did not
 * run for that long (a busy event loop, a GC pause, a CPU taken by others). As leader it
 * sent no heartbeats meanwhile, and followers call an election after 10-20 ticks of
 * silence; so the replica says so, like etcd's "leader failed to send out heartbeat on
 * time", and an unexpected election has a cause in the log. At most one line per
 * `everyMs`, counting the late ticks since the last line.
 */
export class LateTicks {
  private count = 0;
  private worstMs = 0;
  private lastSaidAt = -Infinity;

  /** A gap of `lateAfter` ticks or more is late (default 5: 100 ms at the default 20 ms tick). */
  constructor(
    private readonly tickMs: number,
    private readonly lateAfter = 5,
    private readonly everyMs = 5000,
  ) {}

  /** The time between this tick and the previous one; returns a line to log, if one is due. */
  note(gapMs: number, now: number, role: string): string | undefined {
    if (gapMs < this.lateAfter * this.tickMs) return undefined;
    this.count++;
    this.worstMs = Math.max(this.worstMs, gapMs);
    if (now - this.lastSaidAt < this.everyMs) return undefined;
    const line =
      `raft: ticks ran late ${this.count} time(s), the worst ${Math.round(this.worstMs)} ms (tick ${this.tickMs} ms) as ${role}: ` +
      `this process was busy or not scheduled${role === 'leader' ? ', and sent no heartbeats meanwhile' : ''}`;
    this.count = 0;
    this.worstMs = 0;
    this.lastSaidAt = now;
    return line;
  }
}
