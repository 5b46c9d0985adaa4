/**
 * The object store as the Raft replica's state machine: unwraps each entry's envelope,
 * applies the commands in order, and hands every result to the proposer waiting for it.
 *
 * The store's own write (a LevelDB batch of the changed objects and the applied index)
 * runs beside the Raft loop instead of inside it: apply() queues the entries (the store
 * applies queued batches strictly in order) and returns. That is safe because
 *  - the entries are already durable in the Raft log, and the store's applied index on
 *    disk only moves with its batch (written behind its memory), so a crash re-applies
 *    what was not written;
 *  - readers that need a point in the log wait for the store itself to reach it
 *    ({@link waitApplied}), not for the Raft loop;
 *  - snapshot and restore first wait for every queued batch.
 */
import type { Entry, StateMachine } from '../raft/index.ts';
import type { ObjectStore, Result } from '../store/index.ts';
import { decodeEnvelope, type Proposer } from './proposer.ts';

export class StoreMachine implements StateMachine {
  proposer: Proposer | undefined;
  /** The last queued batch (each waits for the previous one inside the store). */
  private pending: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly onFatal: (e: Error) => void = () => {},
  ) {}

  apply(entries: Entry[]): void {
    if (this.failure) throw this.failure;
    const inputs: { index: number; term: number; data: Uint8Array }[] = new Array(entries.length);
    const ids: (string | undefined)[] = new Array(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const env = decodeEnvelope(e.data);
      // Bytes that are not an envelope are handed on as they are: the store reports them
      // as Invalid and carries on (a bad entry never stops the log).
      inputs[i] = { index: e.index, term: e.term, data: env ? env.command : e.data };
      ids[i] = env?.requestId;
    }
    // Each proposer is answered as soon as the chunk holding its entry is applied (the
    // store applies long lists in chunks, yielding to the event loop in between).
    let settled = 0;
    const settle = (done: number, results: readonly Result[]): void => {
      const p = this.proposer;
      for (; settled < done; settled++) {
        const id = ids[settled];
        if (id !== undefined && p) p.settle(id, { index: inputs[settled]!.index, result: results[settled]! });
      }
    };
    this.pending = this.store.applyEntries(inputs, settle).then(
      (results: Result[]) => settle(results.length, results),
      (e: Error) => {
        // The store could not write: it cannot keep up with the log any more.
        this.failure = e;
        this.onFatal(e);
      },
    );
  }

  /**
   * Resolves once the store has applied everything up to `index`, for an `index` the
   * replica has already applied (e.g. a read index): every command at or below it has
   * been queued by then, so the batch queued last covers it. (Comparing with the store's
   * own applied index alone would wait forever when `index` is a leader's no-op or a
   * membership entry, which never reach the store.)
   */
  async waitApplied(index: number): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.store.appliedIndex() >= index) return;
    // Released by the chunk that reaches `index` (the store applies long lists in chunks),
    // or at the latest when the last queued batch is done.
    const last = this.pending;
    await new Promise<void>((resolve) => {
      const off = this.store.onApplied((info) => {
        if (info.index >= index) done();
      });
      function done(): void {
        off();
        resolve();
      }
      void last.then(done);
    });
    if (this.failure) throw this.failure;
  }

  async snapshot(): Promise<Uint8Array> {
    await this.pending;
    return this.store.snapshot();
  }

  async restore(data: Uint8Array, index: number): Promise<void> {
    await this.pending;
    await this.store.restore(data, index);
  }

  appliedIndex(): number {
    return this.store.recoveredFromInterruptedRestore ? 0 : this.store.appliedIndex();
  }

  /** Wait for every queued batch and for the store's KV to hold it (shutdown, before the database closes). */
  async drain(): Promise<void> {
    await this.pending;
    await this.store.flush();
  }
}
