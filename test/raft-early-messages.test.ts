/**
 * Which messages may leave while a Ready's disk write is still in progress (Raft.send,
 * Raft.takeMessages). Pre-votes, their answers and heartbeat answers depend on nothing
 * durable and sit on the critical path of elections and check-quorum: they must not
 * queue behind an fsync of entries. Votes and append acknowledgements must wait for it
 * (thesis §3.8). Driven by hand on the in-memory cluster: ready() is called, the write
 * "is in progress", messages arrive, and only then is the Ready persisted and advanced.
 */

import test from 'ava';
import type { Message, NodeId, Ready } from '../src/raft/types.ts';
import { Cluster, utf8 } from './interaction/cluster.ts';

function newCluster(cfg = {}): Cluster {
  const c = new Cluster({ preVote: true, ...cfg });
  const voters: NodeId[] = [1, 2, 3];
  for (const id of voters) c.add(id, { voters, snapshotIndex: 1 });
  return c;
}

/** Node 1 leads; node 2 has taken (ready()) a Ready holding a new entry, not yet written. */
function followerMidWrite(cfg = {}): { c: Cluster; term: number; lastIndex: number; rd: Ready } {
  const c = newCluster(cfg);
  c.raft(1).campaign();
  c.stabilize();
  const term = c.raft(1).term;
  c.raft(1).propose(utf8('x'));
  c.processReady(1);
  c.deliver((m) => m.to === 2 && m.type === 'app');
  const r2 = c.raft(2);
  const rd = r2.ready();
  if (rd.entries.length !== 1 || !rd.mustSync) throw new Error('expected one entry to write');
  return { c, term, lastIndex: r2.log.lastIndex(), rd };
}

const types = (ms: Message[]): string[] => ms.map((m) => `${m.type}->${m.to}`);

test('a heartbeat is answered while the follower is still writing entries; the append ack waits', (t) => {
  const { c, term, rd } = followerMidWrite();
  // The append acknowledgement goes out only once the entry is written.
  t.deepEqual(types(rd.messages), []);
  t.deepEqual(types(rd.persistedMessages), ['appResp->1']);
  const r2 = c.raft(2);
  r2.step({ type: 'heartbeat', from: 1, to: 2, term, commit: 0, ctx: utf8('hb') });
  t.deepEqual(types(r2.takeMessages()), ['heartbeatResp->1'], 'heartbeat answer leaves at once');
});

test('pre-votes are asked and answered during a write; real votes wait for the term and vote to be durable', (t) => {
  // checkQuorum off: node 2 does not ignore candidates while it knows a leader.
  const { c, term, lastIndex } = followerMidWrite();
  const r2 = c.raft(2);
  const lastTerm = r2.log.lastTerm();
  r2.step({ type: 'preVote', from: 3, to: 2, term: term + 1, lastIndex, lastTerm, transfer: false });
  const early = r2.takeMessages();
  t.deepEqual(types(early), ['preVoteResp->3']);
  t.false((early[0] as Message & { reject: boolean }).reject, 'granted');
  t.is(r2.term, term, 'a pre-vote changes no state');

  // A real vote at a new term: granted, but only after this node's term and vote are
  // written, so nothing leaves early.
  r2.step({ type: 'vote', from: 3, to: 2, term: term + 1, lastIndex, lastTerm, transfer: false });
  t.deepEqual(types(r2.takeMessages()), [], 'a vote answer never leaves before the write');
  r2.advance();
  const rd = r2.ready();
  t.true(rd.mustSync);
  t.deepEqual(rd.hardState && { term: rd.hardState.term, vote: rd.hardState.vote }, { term: term + 1, vote: 3 });
  t.deepEqual(types(rd.persistedMessages).filter((x) => x.startsWith('vote')), ['voteResp->3']);
});

test('a pre-candidate sends its pre-votes during a write; as a candidate its vote requests wait for the write', (t) => {
  const { c, term } = followerMidWrite();
  const r2 = c.raft(2);
  r2.campaign();
  t.is(r2.role, 'preCandidate');
  t.deepEqual(types(r2.takeMessages()).sort(), ['preVote->1', 'preVote->3']);
  // Node 3's grant makes a quorum with node 2's own.
  r2.step({ type: 'preVoteResp', from: 3, to: 2, term: term + 1, reject: false });
  t.is(r2.role, 'candidate');
  t.deepEqual(types(r2.takeMessages()), [], 'vote requests wait until the own vote is durable');
  r2.advance();
  const rd = r2.ready();
  t.deepEqual(rd.hardState && { term: rd.hardState.term, vote: rd.hardState.vote }, { term: term + 1, vote: 2 });
  t.deepEqual(types(rd.persistedMessages).filter((x) => x.startsWith('vote')).sort(), ['vote->1', 'vote->3']);
});
