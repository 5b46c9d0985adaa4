/**
 * Batches what the agent reports to the leader: pod statuses coalesced per pod (only the
 * newest status of each pod is sent), flushed at most every `flushMs` — or at once when
 * `maxBatch` pods are waiting — plus the latest usage sample. A report that fails is retried
 * with back-off; a newer status of the same pod replaces it meanwhile.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import { sleep, type Clock, type TimerHandle } from './clock.ts';
import type { ControlCallError } from './control-client.ts';
import { errorText, type AgentLogger } from './log.ts';
import type { PodStatusReportWire, PodUsageWire, ReportStatusRequest, ReportStatusResponse } from './proto.ts';

export interface StatusReporterOptions {
  nodeName: string;
  send: (req: ReportStatusRequest) => Promise<ReportStatusResponse>;
  clock: Clock;
  logger: AgentLogger;
  backoffMs: (attempt: number) => number;
  flushMs?: number;
  maxBatch?: number;
}

export class StatusReporter {
  private pending = new Map<string, PodStatusReportWire>();
  private usage: { pods: PodUsageWire[]; cpu: number; memory: number } | undefined;
  private timer: TimerHandle | undefined;
  private flushing: Promise<void> | undefined;
  private lastFlush = -Infinity;
  private failures = 0;
  private stopped = false;
  private readonly flushMs: number;
  private readonly maxBatch: number;
  /** Reports sent and acknowledged (tests, metrics). */
  sent = 0;
  /** namespace/name the control plane called stale, most recent last (bounded). */
  readonly ignored: string[] = [];

  constructor(private readonly o: StatusReporterOptions) {
    this.flushMs = o.flushMs ?? 50;
    this.maxBatch = o.maxBatch ?? 200;
  }

  /** Queues the newest status of a pod. */
  report(r: PodStatusReportWire): void {
    if (this.stopped) return;
    this.pending.set(r.uid, r);
    this.schedule();
  }

  /** A pod that went away: its unsent status is dropped. */
  drop(uid: string): void {
    this.pending.delete(uid);
  }

  /** Replaces the usage to send with the next report, and flushes soon. */
  setUsage(pods: PodUsageWire[], nodeCpuMillicores: number, nodeMemoryBytes: number): void {
    if (this.stopped) return;
    this.usage = { pods, cpu: nodeCpuMillicores, memory: nodeMemoryBytes };
    this.schedule();
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private schedule(): void {
    if (this.stopped || this.flushing || this.timer) return;
    if (this.pending.size === 0 && !this.usage) return;
    const now = this.o.clock.now();
    const due = this.pending.size >= this.maxBatch ? now : Math.max(now, this.lastFlush + this.flushMs);
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
        this.schedule();
      });
    }, due - now);
  }

  private async flush(): Promise<void> {
    const batch = [...this.pending.values()].slice(0, this.maxBatch);
    const usage = this.usage;
    if (batch.length === 0 && !usage) return;
    for (const r of batch) this.pending.delete(r.uid);
    this.usage = undefined;
    this.lastFlush = this.o.clock.now();
    const req: ReportStatusRequest = {
      node_name: this.o.nodeName,
      pods: batch,
      usage: usage?.pods ?? [],
      node_cpu_millicores: usage?.cpu ?? 0,
      node_memory_bytes: usage?.memory ?? 0,
    };
    try {
      const res = await this.o.send(req);
      this.sent += batch.length;
      this.failures = 0;
      for (const k of res.ignored ?? []) {
        this.ignored.push(k);
        if (this.ignored.length > 100) this.ignored.shift();
      }
    } catch (e) {
      const err = e as ControlCallError;
      if (err.code === grpcStatus.INVALID_ARGUMENT) {
        // The control plane refused one report (it names it: pods[i]); sending it again would
        // fail again and hold back every other pod. Drop that one (or, unnamed, the batch).
        const m = /pods\[(\d+)\]/.exec(err.message);
        const bad = m ? batch[Number(m[1])] : undefined;
        this.o.logger.error(`status report refused: ${errorText(e)}${bad ? ` (pod ${bad.namespace}/${bad.name} dropped)` : ' (batch dropped)'}`);
        if (bad) for (const r of batch) if (r !== bad && !this.pending.has(r.uid)) this.pending.set(r.uid, r);
        return;
      }
      this.failures++;
      // Put back what was not superseded meanwhile; a newer usage sample wins over this one.
      for (const r of batch) if (!this.pending.has(r.uid)) this.pending.set(r.uid, r);
      this.usage ??= usage;
      const code = (e as ControlCallError).codeName ?? '';
      this.o.logger.warn(`reporting status failed (${code} ${errorText(e)}); retrying`);
      const ok = await sleep(this.o.clock, this.o.backoffMs(this.failures - 1));
      if (!ok) return;
    }
  }

  stop(): void {
    this.stopped = true;
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Sends everything pending now (shutdown, tests). */
  async drain(): Promise<void> {
    if (this.flushing) await this.flushing;
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size > 0 || this.usage) {
      this.flushing = this.flush().finally(() => (this.flushing = undefined));
      await this.flushing;
    }
  }
}
