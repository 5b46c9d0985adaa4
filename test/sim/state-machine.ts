import { decodeConfChange } from '../../src/raft/codec.ts';
import type { ConfState, Entry } from '../../src/raft/types.ts';

/** Bytes as a string, one char per byte (cheap and exact, for comparing entries). */
export function bytesKey(b: Uint8Array): string {
  return b.length === 0 ? '' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

const keyMemo = new WeakMap<Entry, string>();

/** Everything that identifies an entry's content: term, type and data. */
export function entryKey(e: Entry): string {
  let k = keyMemo.get(e);
  if (k === undefined) {
    k = `${e.term}|${e.type === 'conf' ? 'c' : 'n'}|${bytesKey(e.data)}`;
    keyMemo.set(e, k);
  }
  return k;
}

export function copyConf(c: ConfState): ConfState {
  return { voters: [...c.voters].sort((a, b) => a - b), learners: [...c.learners].sort((a, b) => a - b) };
}

export function sameConf(a: ConfState, b: ConfState): boolean {
  const x = copyConf(a);
  const y = copyConf(b);
  return x.voters.join(',') === y.voters.join(',') && x.learners.join(',') === y.learners.join(',');
}

export function fmtConf(c: ConfState): string {
  const x = copyConf(c);
  return `v[${x.voters.join(',')}] l[${x.learners.join(',')}]`;
}

/**
 * A replica's application: the list of applied entries (their keys), plus the membership
 * as of the last applied entry, which the application tracks itself (it is what goes
 * into snapshots). Lives in memory only: a crash loses it, a restart rebuilds it from
 * the replica's durable snapshot.
 */
export class StateMachine {
  /** keys[i - 1] is the key of the entry applied at index i. */
  keys: string[];
  conf: ConfState;

  constructor(keys: string[], conf: ConfState) {
    this.keys = keys;
    this.conf = copyConf(conf);
  }

  get applied(): number {
    return this.keys.length;
  }

  /** Apply the next entry; returns the conf change it made, if any. */
  apply(e: Entry): void {
    if (e.index !== this.keys.length + 1) {
      throw new Error(`state machine: applying index ${e.index} after ${this.keys.length} (gap or repeat)`);
    }
    this.keys.push(entryKey(e));
    if (e.type === 'conf') {
      const cc = decodeConfChange(e.data);
      const voters = new Set(this.conf.voters);
      const learners = new Set(this.conf.learners);
      switch (cc.type) {
        case 'addVoter':
          learners.delete(cc.nodeId);
          voters.add(cc.nodeId);
          break;
        case 'addLearner':
          if (!voters.has(cc.nodeId)) learners.add(cc.nodeId);
          break;
        case 'removeNode':
          voters.delete(cc.nodeId);
          learners.delete(cc.nodeId);
          break;
      }
      this.conf = copyConf({ voters: [...voters], learners: [...learners] });
    }
  }

  encode(): Uint8Array {
    return new Uint8Array(Buffer.from(JSON.stringify({ keys: this.keys, conf: this.conf }), 'utf8'));
  }

  static decode(data: Uint8Array, fallbackConf: ConfState): StateMachine {
    if (data.length === 0) return new StateMachine([], fallbackConf);
    const o = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as {
      keys: string[];
      conf: ConfState;
    };
    return new StateMachine(o.keys, o.conf);
  }
}
