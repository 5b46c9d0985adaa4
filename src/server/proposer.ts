/**
 * Writes through the log: every command travels in an envelope carrying a request id,
 * is appended by the leader (or forwarded to it), and completes when THIS replica
 * applies it — every replica computes the same result, so whichever replica took the
 * call answers it.
 */
import { randomBytes } from 'node:crypto';
import { Packr, Unpackr } from 'msgpackr';
import { ReplicaError, type Replica } from '../raft/index.ts';
import { encodeCommand, type Command, type Result } from '../store/index.ts';

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, int64AsType: 'number' });
const ENVELOPE_VERSION = 1;

export interface Envelope {
  requestId: string;
  command: Uint8Array;
}

export function encodeEnvelope(e: Envelope): Uint8Array {
  return packr.pack([ENVELOPE_VERSION, e.requestId, e.command]);
}

/** The envelope of an entry, or undefined when the bytes are not one (never throws). */
export function decodeEnvelope(data: Uint8Array): Envelope | undefined {
  let v: unknown;
  try {
    v = unpackr.unpack(data);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 3 || v[0] !== ENVELOPE_VERSION) return undefined;
  if (typeof v[1] !== 'string' || !(v[2] instanceof Uint8Array)) return undefined;
  return { requestId: v[1], command: v[2] };
}

export interface Applied {
  index: number;
  result: Result;
}

interface Waiter {
  resolve(a: Applied): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  term: number;
}

/** Failure to learn a write's outcome: it may or may not have been applied. */
export class UnknownOutcomeError extends ReplicaError {}

export class Proposer {
  private seq = 0;
  /** Unique per process start, so request ids never repeat across restarts. */
  private readonly boot = randomBytes(6).toString('hex');
  private readonly waiters = new Map<string, Waiter>();

  constructor(private readonly replica: Replica) {
    replica.onStateChange((_role, _leader, term) => this.onTermChange(term));
  }

  /**
   * Propose `cmd` and wait until this replica applies it. Waits for a leader to be known
   * (an election in progress) up to the deadline.
   */
  async propose(cmd: Command, deadline: number): Promise<Applied> {
    const requestId = `${this.replica.id}.${this.boot}.${++this.seq}`;
    const data = encodeEnvelope({ requestId, command: encodeCommand(cmd) });
    for (;;) {
      try {
        this.replica.submit(data);
        break;
      } catch (e) {
        if (!(e instanceof ReplicaError) || e.code !== 'notLeader' || Date.now() + 20 > deadline) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const term = this.replica.status().term;
    return new Promise<Applied>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(requestId);
        reject(new UnknownOutcomeError('timeout', 'timed out waiting for the write to be committed; its outcome is unknown'));
      }, Math.max(1, deadline - Date.now()));
      this.waiters.set(requestId, { resolve, reject, timer, term });
    });
  }

  /** Called by the state machine for every applied envelope. */
  settle(requestId: string, applied: Applied): void {
    const w = this.waiters.get(requestId);
    if (!w) return;
    this.waiters.delete(requestId);
    clearTimeout(w.timer);
    w.resolve(applied);
  }

  /**
   * A new term: a write forwarded to the old leader may have been dropped with its
   * leadership, or may still commit under the new one. Say so now rather than at the
   * deadline; a client retrying must be ready for either (e.g. AlreadyExists).
   */
  private onTermChange(term: number): void {
    for (const [id, w] of this.waiters) {
      if (w.term >= term) continue;
      this.waiters.delete(id);
      clearTimeout(w.timer);
      w.reject(new UnknownOutcomeError('dropped', 'the leader changed while the write was in flight; its outcome is unknown', this.replica.status().leader));
    }
  }

  failAll(err: Error): void {
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
  }
}
