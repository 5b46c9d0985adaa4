/**
 * The pre-vote tie-break (Raft.yieldsPreVoteTo): a pre-candidate in its first round
 * refuses a rival pre-campaigning for the same term that ranks below it, so that two
 * simultaneous pre-campaigns cannot both succeed and split the vote
 * (test/testdata/raft/prevote-simultaneous.txt has the whole story). From its second
 * round on it grants as usual: a pre-candidate that could not win must not block a rival
 * that can.
 */

import test from 'ava';
import type { Message, NodeId } from '../src/raft/types.ts';
import { Cluster } from './interaction/cluster.ts';

function cluster(): Cluster {
  const c = new Cluster({ preVote: true });
  const voters: NodeId[] = [1, 2, 3];
  for (const id of voters) c.add(id, { voters, snapshotIndex: 1 });
  return c;
}

function answerTo(c: Cluster, from: NodeId, to: NodeId): Message & { reject: boolean } {
  const r = c.raft(to);
  r.step({ type: 'preVote', from, to, term: r.term + 1, lastIndex: r.log.lastIndex(), lastTerm: r.log.lastTerm(), transfer: false });
  const out = r.takeMessages().filter((m) => m.type === 'preVoteResp');
  if (out.length !== 1) throw new Error(`expected one answer, got ${out.length}`);
  return out[0] as Message & { reject: boolean };
}

test('first round: refuses a lower-ranked rival (equal log, higher id), grants a higher-ranked one', (t) => {
  const c = cluster();
  c.raft(2).campaign();
  t.is(c.raft(2).role, 'preCandidate');
  t.true(answerTo(c, 3, 2).reject, 'node 3 ranks below node 2');
  t.false(answerTo(c, 1, 2).reject, 'node 1 ranks above node 2');
});

test('from the second round on, a pre-candidate grants any rival whose log is up to date', (t) => {
  const c = cluster();
  c.raft(2).campaign();
  c.raft(2).campaign(); // its election timeout passed again without a win
  t.is(c.raft(2).role, 'preCandidate');
  t.false(answerTo(c, 3, 2).reject);
});

test('a follower (not pre-campaigning) grants as before', (t) => {
  const c = cluster();
  t.is(c.raft(2).role, 'follower');
  t.false(answerTo(c, 3, 2).reject);
});
