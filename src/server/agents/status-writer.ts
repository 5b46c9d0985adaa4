/**
 * Leader-only: pod status reports from every agent, coalesced into few proposals.
 *
 * Reports queue per pod (the latest wins); one proposal is in flight at a time and
 * carries everything queued meanwhile (up to a size cap) as one `batch` command of
 * `updateStatus` sub-commands with a `{ uid, term }` precondition, plus, for a pod being
 * deleted whose containers have all stopped, a `delete` with grace 0 that completes the
 * graceful deletion. A batch is all-or-nothing: when it fails, the sub-commands named in
 * `failed` (a pod deleted or replaced meanwhile) are dropped and the rest is proposed
 * again, a bounded number of times.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Command, Result, UpdateStatusCommand } from '../../store/index.ts';
import { ApiError, fromFailure } from '../errors.ts';

export interface StatusUpdate {
  namespace: string;
  name: string;
  uid: string;
  status: Record<string, unknown>;
  /** Also delete the pod (grace 0) after writing its status. */
  complete: boolean;
  /** Approximate encoded size, for the proposal size cap. */
  size: number;
  /** The node whose agent reported it (the write's watch event names it as its origin). */
  node?: string;
}

export type Outcome = 'written' | 'dropped';

export interface StatusWriterDeps {
  /** Propose a command and resolve with its result once applied here. */
  propose(cmd: Command, deadline: number): Promise<Result>;
  /** Timestamp for commands (ISO, seconds). */
  now(): string;
  /**
   * The term this replica leads in, or undefined when it does not lead. Every write is
   * conditional on it, so a deposed leader's batch cannot commit (ARCHITECTURE rule 3).
   */
  term(): number | undefined;
  /** The error for callers when this replica no longer leads. */
  notLeader(): Error;
  maxBatch?: number;
  maxBatchBytes?: number;
  timeoutMs?: number;
  /** Runs fn after the current turn (default setImmediate). */
  defer?: (fn: () => void) => void;
}

interface Entry {
  key: string;
  update: StatusUpdate;
  waiters: { resolve(o: Outcome): void; reject(e: Error): void }[];
}

const ATTEMPTS = 3;

export class StatusWriter {
  private readonly pending = new Map<string, Entry>();
  private running = false;
  private scheduled = false;
  /** Proposals made (tests and metrics). */
  proposals = 0;

  constructor(private readonly d: StatusWriterDeps) {}

  /** Queue updates; resolves with each one's outcome (in order) once written or dropped. */
  submit(updates: StatusUpdate[]): Promise<Outcome[]> {
    const all = updates.map(
      (u) =>
        new Promise<Outcome>((resolve, reject) => {
          const key = `${u.namespace}/${u.name}`;
          const e = this.pending.get(key);
          if (e) {
            // A newer report of a pod not written yet replaces the older one.
            e.update = u;
            e.waiters.push({ resolve, reject });
          } else {
            this.pending.set(key, { key, update: u, waiters: [{ resolve, reject }] });
          }
        }),
    );
    this.schedule();
    return Promise.all(all);
  }

  /** Fail everything queued (leadership lost). */
  failAll(err: Error): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const e of entries) for (const w of e.waiters) w.reject(err);
  }

  private schedule(): void {
    if (this.running || this.scheduled || this.pending.size === 0) return;
    this.scheduled = true;
    (this.d.defer ?? ((fn) => void setImmediate(fn)))(() => void this.run());
  }

  private async run(): Promise<void> {
    this.scheduled = false;
    this.running = true;
    try {
      while (this.pending.size > 0) {
        const batch: Entry[] = [];
        let bytes = 0;
        for (const e of this.pending.values()) {
          if (batch.length > 0 && (batch.length >= (this.d.maxBatch ?? 1000) || bytes + e.update.size > (this.d.maxBatchBytes ?? 1024 * 1024))) break;
          batch.push(e);
          bytes += e.update.size;
        }
        for (const e of batch) this.pending.delete(e.key);
        await this.write(batch);
      }
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  private async write(batch: Entry[]): Promise<void> {
    let live = batch;
    const term = this.d.term();
    if (term === undefined) {
      settle(live, this.d.notLeader());
      return;
    }
    for (let attempt = 0; attempt < ATTEMPTS && live.length > 0; attempt++) {
      const commands: Command[] = [];
      const owner: Entry[] = [];
      const now = this.d.now();
      for (const e of live) {
        const u = e.update;
        const cmd: UpdateStatusCommand = {
          op: 'updateStatus',
          object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: u.name, namespace: u.namespace, uid: u.uid }, status: u.status as never },
          precondition: { uid: u.uid, term },
          now,
        };
        if (u.node !== undefined) cmd.reporter = u.node;
        commands.push(cmd);
        owner.push(e);
        if (u.complete) {
          commands.push({ op: 'delete', kind: 'Pod', namespace: u.namespace, name: u.name, precondition: { uid: u.uid, term }, gracePeriodSeconds: 0, now });
          owner.push(e);
        }
      }
      let r: Result;
      try {
        this.proposals++;
        r = await this.d.propose({ op: 'batch', commands }, Date.now() + (this.d.timeoutMs ?? 10_000));
      } catch (err) {
        settle(live, err as Error);
        return;
      }
      if (r.ok) {
        settle(live, 'written');
        return;
      }
      if (this.d.term() !== term) {
        // Leadership moved while the batch was in flight: nothing here was stale.
        settle(live, this.d.notLeader());
        return;
      }
      if (!r.failed || r.failed.length === 0) {
        settle(live, fromFailure(r));
        return;
      }
      const bad = new Set(r.failed.map((i) => owner[i]!));
      settle([...bad], 'dropped');
      live = live.filter((e) => !bad.has(e));
    }
    if (live.length > 0) settle(live, new ApiError(grpcStatus.ABORTED, 'pod status writes kept conflicting; report again'));
  }
}

function settle(entries: Entry[], outcome: Outcome | Error): void {
  for (const e of entries) {
    for (const w of e.waiters) {
      if (outcome instanceof Error) w.reject(outcome);
      else w.resolve(outcome);
    }
  }
}
