/**
 * A watch on the workload's ConfigMaps from the start of the run, kept alive across
 * faults: when its stream ends (its replica died), is refused, or stalls (its replica is
 * cut off or removed while acknowledged writes go past it), it resumes from the last
 * resourceVersion it received on the next replica. Only if no replica still holds the
 * history from there does it relist, and the run's watch check is then marked incomplete.
 */
import { BerthClient, type ApiCallError, type WatchEventOut } from '../../src/client/client.ts';
import { NAMESPACE, rvOf, valueOf } from './workload.ts';

export interface WatchRecord {
  key: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  value: string | null;
  rv: number;
  /** When this process received it (performance.now()). */
  at: number;
  /** Which stream (1, 2, ...) delivered it. */
  segment: number;
}

const STALL_MS = 3000;

export class WatchRecorder {
  readonly events: WatchRecord[] = [];
  /** Why each stream after the first was opened. */
  readonly resumes: string[] = [];
  /** Times the watch could not resume without a gap (relisted). */
  readonly gaps: string[] = [];
  lastRv: number;
  private segment = 0;
  private endpoint = 0;
  private cancel: (() => void) | undefined;
  private stopped = false;
  private lastProgress = performance.now();
  private stallTimer: NodeJS.Timeout | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private tooOld = 0;
  private readonly clients: BerthClient[];

  constructor(
    private readonly endpoints: string[],
    startRv: number,
    /** The highest resourceVersion a call was acknowledged with so far. */
    private readonly ackedRv: () => number,
    private readonly log: (s: string) => void,
  ) {
    this.lastRv = startRv;
    this.clients = endpoints.map((e) => new BerthClient({ endpoints: [e], timeoutMs: 5000 }));
  }

  start(): void {
    this.open('start');
    this.stallTimer = setInterval(() => {
      if (this.stopped) return;
      if (this.ackedRv() > this.lastRv && performance.now() - this.lastProgress > STALL_MS) {
        this.switchEndpoint(`stalled at ${this.lastRv} on ${this.endpoints[this.endpoint]} while writes reached ${this.ackedRv()}`);
      }
    }, 500);
  }

  private open(reason: string): void {
    if (this.stopped) return;
    const seg = ++this.segment;
    if (seg > 1) this.resumes.push(`${reason}; resumed from ${this.lastRv} on ${this.endpoints[this.endpoint]}`);
    this.lastProgress = performance.now();
    this.cancel = this.clients[this.endpoint]!.watch(
      'ConfigMap',
      { namespace: NAMESPACE, resourceVersion: String(this.lastRv) },
      (ev) => this.onEvent(seg, ev),
      (err) => this.onEnd(seg, err),
    );
  }

  private onEvent(seg: number, ev: WatchEventOut): void {
    if (seg !== this.segment || this.stopped || ev.type === 'BOOKMARK') return;
    const rv = Number(ev.resourceVersion);
    const name = String((ev.object?.metadata as { name?: string } | undefined)?.name ?? '');
    this.events.push({ key: name, type: ev.type, value: valueOf(ev.object), rv: Number.isFinite(rv) ? rv : rvOf(ev.object), at: performance.now(), segment: seg });
    if (rv > this.lastRv) this.lastRv = rv;
    this.lastProgress = performance.now();
    this.tooOld = 0;
  }

  private onEnd(seg: number, err: ApiCallError | undefined): void {
    if (seg !== this.segment || this.stopped) return;
    this.cancel = undefined;
    const code = err?.codeName ?? 'ended';
    if (code === 'OUT_OF_RANGE') this.tooOld++;
    else this.tooOld = 0;
    if (this.tooOld >= this.endpoints.length) {
      void this.relist();
      return;
    }
    this.endpoint = (this.endpoint + 1) % this.endpoints.length;
    clearTimeout(this.reopenTimer);
    this.reopenTimer = setTimeout(() => this.open(`stream ended (${code}${err ? `: ${err.message}` : ''})`), code === 'ended' ? 20 : 100);
  }

  private switchEndpoint(reason: string): void {
    const c = this.cancel;
    this.cancel = undefined;
    this.segment++; // events of the old stream are ignored from now on
    c?.();
    this.endpoint = (this.endpoint + 1) % this.endpoints.length;
    this.open(reason);
  }

  /** No replica keeps the history from lastRv: list, record the state, carry on from there. */
  private async relist(): Promise<void> {
    this.tooOld = 0;
    for (let i = 0; i < this.endpoints.length && !this.stopped; i++) {
      try {
        const l = await this.clients[(this.endpoint + i) % this.endpoints.length]!.list('ConfigMap', { namespace: NAMESPACE });
        this.gaps.push(`history from ${this.lastRv} gone everywhere; relisted at ${l.resourceVersion}`);
        this.log(`watch: ${this.gaps[this.gaps.length - 1]}`);
        this.lastRv = Number(l.resourceVersion);
        this.open('relisted');
        return;
      } catch {
        // next endpoint
      }
    }
    if (!this.stopped) this.reopenTimer = setTimeout(() => void this.relist(), 500);
  }

  /** Wait until the watch has delivered `rv` (true) or `timeoutMs` passed (false). */
  async caughtUp(rv: number, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.lastRv < rv) {
      if (performance.now() > deadline) return false;
      if (performance.now() - this.lastProgress > STALL_MS) this.switchEndpoint(`behind at ${this.lastRv} after the run (want ${rv})`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return true;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.stallTimer);
    clearTimeout(this.reopenTimer);
    this.cancel?.();
    this.cancel = undefined;
    for (const c of this.clients) c.close();
  }
}
