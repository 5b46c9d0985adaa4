/**
 * One-line, human-readable renderings of Raft entries, messages and Ready structs, for
 * logs and for the golden interaction traces in test/testdata/raft. Pure functions; the
 * format is stable on purpose (the golden files depend on it):
 *
 *   1/4 EntryNormal "foo"                      (term/index, type, data)
 *   1->2 app term=1 index=3 logTerm=1 commit=3 entries=[1/4 EntryNormal "foo"]
 */

import { decodeConfChange } from './codec.ts';
import type { ConfState, Entry, Message, Ready, Snapshot } from './types.ts';

/** Quoted text when the bytes are printable ASCII, otherwise hex (shortened when long). */
export function describeBytes(b: Uint8Array): string {
  let printable = true;
  for (const c of b) {
    if (c < 0x20 || c > 0x7e) {
      printable = false;
      break;
    }
  }
  if (printable) return JSON.stringify(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1'));
  const hex = Buffer.from(b.buffer, b.byteOffset, Math.min(b.byteLength, 16)).toString('hex');
  return `0x${hex}${b.byteLength > 16 ? `…(${b.byteLength} bytes)` : ''}`;
}

export function describeConfState(c: ConfState): string {
  return `voters=(${c.voters.join(',')}) learners=(${c.learners.join(',')})`;
}

export function describeEntry(e: Entry): string {
  const head = `${e.term}/${e.index}`;
  if (e.type === 'normal') return `${head} EntryNormal ${describeBytes(e.data)}`;
  try {
    const cc = decodeConfChange(e.data);
    return `${head} EntryConf ${cc.type} ${cc.nodeId}`;
  } catch {
    return `${head} EntryConf <undecodable ${describeBytes(e.data)}>`;
  }
}

export function describeSnapshot(s: Snapshot): string {
  return `index=${s.meta.index} term=${s.meta.term} ${describeConfState(s.meta.conf)}`;
}

export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'prop':
      return `${head} n=${m.data.length}`;
    case 'vote':
    case 'preVote':
      return `${head} lastIndex=${m.lastIndex} lastTerm=${m.lastTerm}${m.transfer ? ' transfer' : ''}`;
    case 'voteResp':
    case 'preVoteResp':
      return `${head} ${m.reject ? 'rejected' : 'granted'}`;
    case 'app': {
      const ents = m.entries.length > 0 ? ` entries=[${m.entries.map(describeEntry).join(', ')}]` : '';
      return `${head} index=${m.index} logTerm=${m.logTerm} commit=${m.commit}${ents}`;
    }
    case 'appResp':
      return m.reject
        ? `${head} index=${m.index} rejected hintIndex=${m.hintIndex} hintTerm=${m.hintTerm}`
        : `${head} index=${m.index}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}${m.ctx.length > 0 ? ` ctx=${describeBytes(m.ctx)}` : ''}`;
    case 'heartbeatResp':
      return `${head}${m.ctx.length > 0 ? ` ctx=${describeBytes(m.ctx)}` : ''}`;
    case 'snap':
      return `${head} snapshot=(${describeSnapshot(m.snapshot)})`;
    case 'timeoutNow':
      return head;
    case 'readIndex':
      return `${head} ctx=${describeBytes(m.ctx)}`;
    case 'readIndexResp':
      return `${head} index=${m.index} ctx=${describeBytes(m.ctx)}`;
  }
}

/** A multi-line rendering; sections that are empty are left out. */
export function describeReady(rd: Ready): string {
  const out: string[] = [`Ready mustSync=${rd.mustSync}:`];
  if (rd.softState) out.push(`softState: leader=${rd.softState.leader} role=${rd.softState.role}`);
  if (rd.hardState) {
    const h = rd.hardState;
    out.push(`hardState: term=${h.term} vote=${h.vote} commit=${h.commit}`);
  }
  const list = (title: string, items: string[]) => {
    if (items.length === 0) return;
    out.push(`${title}:`);
    for (const s of items) out.push(`  ${s}`);
  };
  list('entries', rd.entries.map(describeEntry));
  if (rd.snapshot) out.push(`snapshot: ${describeSnapshot(rd.snapshot)}`);
  list('committedEntries', rd.committedEntries.map(describeEntry));
  list('messages', rd.messages.map(describeMessage));
  list('persistedMessages', rd.persistedMessages.map(describeMessage));
  list('readStates', rd.readStates.map((r) => `index=${r.index} ctx=${describeBytes(r.ctx)}`));
  if (rd.conf) out.push(`conf: ${describeConfState(rd.conf)}`);
  return out.join('\n');
}
