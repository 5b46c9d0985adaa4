/**
 * The object store as the Raft replica's state machine: unwraps each entry's envelope,
 * applies the commands in order, and hands every result to the proposer waiting for it.
 */
import type { Entry, StateMachine } from '../raft/index.ts';
import type { ObjectStore, Result } from '../store/index.ts';
import { decodeEnvelope, type Proposer } from './proposer.ts';

export class StoreMachine implements StateMachine {
  proposer: Proposer | undefined;

  constructor(private readonly store: ObjectStore) {}

  async apply(entries: Entry[]): Promise<void> {
    const inputs: { index: number; data: Uint8Array }[] = new Array(entries.length);
    const ids: (string | undefined)[] = new Array(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const env = decodeEnvelope(e.data);
      // Bytes that are not an envelope are handed on as they are: the store reports them
      // as Invalid and carries on (a bad entry never stops the log).
      inputs[i] = { index: e.index, data: env ? env.command : e.data };
      ids[i] = env?.requestId;
    }
    const results: Result[] = await this.store.applyEntries(inputs);
    const p = this.proposer;
    if (!p) return;
    for (let i = 0; i < results.length; i++) {
      const id = ids[i];
      if (id !== undefined) p.settle(id, { index: inputs[i]!.index, result: results[i]! });
    }
  }

  snapshot(): Promise<Uint8Array> {
    return this.store.snapshot();
  }

  restore(data: Uint8Array, index: number): Promise<void> {
    return this.store.restore(data, index);
  }

  appliedIndex(): number {
    return this.store.recoveredFromInterruptedRestore ? 0 : this.store.appliedIndex();
  }
}
