/**
 * Lease-based reads (readOnlyOption 'lease', thesis §6.4.1) and forwarded proposals
 * (`prop` messages, etcd's MsgProp), on small deterministic in-memory clusters of real
 * Raft cores (test/interaction/cluster.ts).
 *
 * The lease: a leader's regular heartbeats carry the tick they were sent at; followers
 * echo it. While a quorum of voters (the leader included) acknowledged heartbeats sent
 * within the last electionTick - 2 ticks, no other leader can have been elected (each of
 * those followers ignores vote requests for an election timeout after it heard from the
 * leader, and a restarted node for its first election timeout), so the leader may answer
 * a read from its commit index at once. Otherwise it falls back to ReadIndex's
 * heartbeat round.
 */

import test, { type ExecutionContext } from 'ava';
import { decodeMessages, encodeMessages } from '../src/raft/codec.ts';
import {
  NONE,
  ProposalRefused,
  type Config,
  type Message,
  type NodeId,
  type PropMsg,
  type RefusalReason,
  type VoteMsg,
} from '../src/raft/types.ts';
import { Cluster, text, utf8 } from './interaction/cluster.ts';

/** TEST_CONFIG.electionTick. */
const ELECTION = 10;
const LEASE: Partial<Config> = { checkQuorum: true, preVote: true, readOnlyOption: 'lease' };
const SAFE: Partial<Config> = { checkQuorum: true, preVote: true, readOnlyOption: 'safe' };

const range = (n: number): NodeId[] => Array.from({ length: n }, (_, i) => i + 1);

/**
 * `n` voters from a snapshot at index 1. random = n-1: no node times out by itself
 * within 2·electionTick - 1 ticks unless a test sets its randomizedElectionTimeout.
 */
function newCluster(n: number, cfg: Partial<Config>): Cluster {
  const c = new Cluster(cfg, () => (k) => k - 1);
  const voters = range(n);
  for (const id of voters) c.add(id, { voters, snapshotIndex: 1 });
  return c;
}

/** Let every node's boot-time vote refusal run out, then elect `id` and commit its no-op. */
function boot(t: ExecutionContext, c: Cluster, id: NodeId): void {
  c.tickAll(ELECTION);
  c.raft(id).campaign();
  c.stabilize();
  const r = c.raft(id);
  t.is(r.role, 'leader', `node ${id} should have won the election`);
  t.is(r.log.committed, r.log.lastIndex(), 'the new leader committed its no-op');
}

/** One lease heartbeat round: the leader ticks once and every reachable follower acknowledges. */
function renewLease(c: Cluster, id: NodeId): void {
  c.tick(id);
  c.stabilize();
}

/** The read states `id` has received for `ctx`, as [index, ctx] pairs. */
function statesOf(c: Cluster, id: NodeId, ctx: string): [number, string][] {
  return c
    .get(id)
    .readStates.filter((r) => text(r.ctx) === ctx)
    .map((r) => [r.index, text(r.ctx)]);
}

/**
 * Ask `id` for a read and handle the Ready that follows: the read states it produced
 * at once and the messages it sent (a heartbeat round shows up as heartbeats).
 */
function read(c: Cluster, id: NodeId, ctx: string): { states: [number, string][]; sent: Message[] } {
  while (c.processReady(id));
  const node = c.get(id);
  const before = node.readStates.length;
  c.raft(id).readIndex(utf8(ctx));
  const rd = c.processReady(id);
  return {
    states: node.readStates.slice(before).map((r) => [r.index, text(r.ctx)]),
    sent: rd ? [...rd.messages, ...rd.persistedMessages] : [],
  };
}

const isBeat = (ctx: string) => (m: Message) => m.type === 'heartbeat' && text(m.ctx) === ctx;

function refusal(t: ExecutionContext, f: () => unknown, reason: RefusalReason): void {
  const err = t.throws(f, { instanceOf: ProposalRefused });
  t.is(err?.reason, reason);
}

// ---------------------------------------------------------------------------------------
// Serving reads from the lease

test('lease read: a fresh lease answers at once, without a heartbeat round', (t) => {
  const c = newCluster(3, LEASE);
  boot(t, c, 1);
  renewLease(c, 1);
  const commit = c.raft(1).log.committed;
  const sentBefore = c.sent.length;
  const r = read(c, 1, 'r1');
  t.deepEqual(r.states, [[commit, 'r1']]);
  t.is(c.sent.length, sentBefore, 'not a single message');

  // A follower's read is forwarded to the leader, which answers it at once too.
  c.raft(2).readIndex(utf8('f1'));
  c.processReady(2);
  t.is(c.deliver((m) => m.type === 'readIndex' && m.to === 1).length, 1);
  const rd = c.processReady(1)!;
  t.deepEqual([...rd.messages, ...rd.persistedMessages].map((m) => m.type), ['readIndexResp']);
  c.stabilize();
  t.deepEqual(statesOf(c, 2, 'f1'), [[commit, 'f1']]);
  t.deepEqual(c.violations, []);
});

test('lease read: in safe mode the same read takes a heartbeat round', (t) => {
  const c = newCluster(3, SAFE);
  boot(t, c, 1);
  renewLease(c, 1);
  const commit = c.raft(1).log.committed;
  const r = read(c, 1, 'r1');
  t.deepEqual(r.states, []);
  t.is(r.sent.filter(isBeat('r1')).length, 2);
  c.stabilize();
  t.deepEqual(statesOf(c, 1, 'r1'), [[commit, 'r1']]);
});

test('lease read: falls back to a heartbeat round once the acks are older than electionTick - 2 ticks', (t) => {
  const c = newCluster(5, LEASE);
  boot(t, c, 1);
  renewLease(c, 1);
  const lead = c.raft(1);
  const commit = lead.log.committed;
  // The lease heartbeats of the next ticks are all lost.
  c.isolate(1);
  for (let i = 0; i < ELECTION - 2; i++) {
    c.tick(1);
    c.processReady(1);
  }
  t.deepEqual(read(c, 1, 'in').states, [[commit, 'in']], 'acks of a heartbeat sent electionTick - 2 ticks ago still hold the lease');
  c.tick(1);
  c.processReady(1);
  t.is(lead.role, 'leader');
  c.heal();
  const r = read(c, 1, 'out');
  t.deepEqual(r.states, [], 'one tick later the lease is gone');
  t.is(r.sent.filter(isBeat('out')).length, 4, 'a heartbeat round with the read ctx instead');
  // The first acknowledgement makes 2 of 5: not yet a quorum.
  c.deliver((m) => m.to === 2);
  c.processReady(2);
  c.deliver((m) => m.to === 1);
  c.processReady(1);
  t.deepEqual(statesOf(c, 1, 'out'), []);
  // The second one does.
  c.deliver((m) => m.to === 3);
  c.processReady(3);
  c.deliver((m) => m.to === 1);
  c.processReady(1);
  t.deepEqual(statesOf(c, 1, 'out'), [[commit, 'out']]);
  c.stabilize();
  // The acks of a read's heartbeat round do not renew the lease; the next lease
  // heartbeat does.
  t.deepEqual(read(c, 1, 'again').states, []);
  c.stabilize();
  t.deepEqual(statesOf(c, 1, 'again'), [[commit, 'again']]);
  renewLease(c, 1);
  t.deepEqual(read(c, 1, 'renewed').states, [[commit, 'renewed']]);
  t.deepEqual(c.violations, []);
});

test('lease read: a new leader answers only once an entry of its term is committed', (t) => {
  const c = newCluster(3, LEASE);
  c.tickAll(ELECTION);
  c.raft(1).campaign();
  // Win the election, but hold back every append: the no-op stays uncommitted.
  c.dropIf = (m) => m.type === 'appResp';
  c.stabilize();
  const lead = c.raft(1);
  t.is(lead.role, 'leader');
  renewLease(c, 1);
  t.true(lead.log.committed < lead.log.lastIndex());
  t.deepEqual(read(c, 1, 'early').states, []);
  c.dropIf = undefined;
  renewLease(c, 1);
  t.is(lead.log.committed, lead.log.lastIndex());
  t.deepEqual(statesOf(c, 1, 'early'), [[lead.log.committed, 'early']]);
});

// ---------------------------------------------------------------------------------------
// No stale reads: the lease ends before anyone else can be elected

for (const n of [3, 5]) {
  test(`lease read: an isolated leader stops answering before the ${n - 1} others can elect a new leader`, (t) => {
    const c = newCluster(n, LEASE);
    boot(t, c, 1);
    renewLease(c, 1);
    const old = c.raft(1);
    const oldTerm = old.term;
    const oldCommit = old.log.committed;
    const others = range(n).filter((id) => id !== 1);
    // The most eager follower possible: it campaigns the moment its election timeout is over.
    c.raft(2).randomizedElectionTimeout = ELECTION;
    c.isolate(1);
    let served = 0;
    let lastServed = 0;
    let electedAt = 0;
    for (let g = 1; g <= 3 * ELECTION; g++) {
      // Within each tick the majority side moves first: the worst case for the old leader.
      for (const id of others) c.tick(id);
      c.stabilize(others);
      if (electedAt === 0 && others.some((id) => c.raft(id).role === 'leader')) electedAt = g;
      const majorityCommit = Math.max(...others.map((id) => c.raft(id).log.committed));
      c.tick(1);
      if (old.role !== 'leader') continue;
      for (const [index, ctx] of read(c, 1, `g${g}`).states) {
        t.true(index >= majorityCommit, `stale read ${ctx}: index ${index}, but ${majorityCommit} is committed`);
        served++;
        lastServed = g;
      }
    }
    t.true(served > 0, 'the isolated leader did serve lease reads for a while');
    t.true(electedAt > 0, 'the others elected a new leader');
    t.true(lastServed < electedAt, `last lease read at tick ${lastServed}, new leader at tick ${electedAt}`);
    t.is(lastServed, ELECTION - 2);
    const fresh = c.raft(c.leader()!);
    t.true(fresh.term > oldTerm);
    t.true(fresh.log.committed > oldCommit, 'the new leader committed past the old read point');
    t.is(old.role, 'follower', 'the old leader stepped down (check-quorum)');
    t.deepEqual(c.violations, []);
  });
}

for (const mode of ['lease', 'safe'] as const) {
  test(`boot: a freshly started node ${mode === 'lease' ? 'ignores (pre)votes for its first electionTick ticks' : 'votes at once'} (${mode} reads)`, (t) => {
    const c = newCluster(3, mode === 'lease' ? LEASE : SAFE);
    const r2 = c.raft(2);
    const ask = (type: 'preVote' | 'vote', transfer = false): VoteMsg => ({
      type, from: 3, to: 2, term: r2.term + 1, lastIndex: r2.log.lastIndex(), lastTerm: r2.log.lastTerm(), transfer,
    });
    const answers = (): Message[] => {
      c.processReady(2);
      return c.take((m) => m.from === 2);
    };
    const term = r2.term;
    if (mode === 'lease') {
      for (let i = 0; i < ELECTION; i++) {
        r2.step(ask('preVote'));
        r2.step(ask('vote'));
        t.deepEqual(answers(), [], `tick ${i}: ignored`);
        t.is(r2.term, term, 'no term change');
        c.tick(2);
      }
    }
    r2.step(ask('preVote'));
    t.deepEqual(answers().map((m) => [m.type, m.type === 'preVoteResp' && !m.reject]), [['preVoteResp', true]]);
    r2.step(ask('vote'));
    t.deepEqual(answers().map((m) => [m.type, m.type === 'voteResp' && !m.reject]), [['voteResp', true]]);
    t.is(r2.term, term + 1);
    t.is(r2.vote, 3);
  });
}

test('boot: a transfer vote is granted even by a freshly started node in lease mode', (t) => {
  const c = newCluster(3, LEASE);
  const r2 = c.raft(2);
  r2.step({ type: 'vote', from: 3, to: 2, term: r2.term + 1, lastIndex: r2.log.lastIndex(), lastTerm: r2.log.lastTerm(), transfer: true });
  c.processReady(2);
  t.truthy(c.queue.find((m) => m.type === 'voteResp' && m.to === 3 && !m.reject));
});

for (const mode of ['lease', 'safe'] as const) {
  test(`lease read: followers restarted right after acknowledging ${mode === 'lease' ? 'cannot help elect a new leader while the lease runs' : 'vote at once in safe mode'}`, (t) => {
    const c = newCluster(5, mode === 'lease' ? LEASE : SAFE);
    boot(t, c, 1);
    // 4 and 5 stop hearing from the leader: its lease rests on 2 and 3.
    c.cut(1, 4);
    c.cut(1, 5);
    c.tickAll(ELECTION);
    const old = c.raft(1);
    t.is(old.role, 'leader');
    const oldCommit = old.log.committed;
    // The leader is cut off just after 2 and 3 acknowledged, and both restart at once.
    c.isolate(1);
    c.restart(2);
    c.restart(3);
    const others = [2, 3, 4, 5];
    let served = 0;
    let lastServed = 0;
    let electedAt = 0;
    for (let g = 1; g <= 3 * ELECTION; g++) {
      for (const id of others) c.tick(id);
      // 4 campaigns on every tick until it wins (it has not heard from a leader for an
      // election timeout, so it may).
      if (electedAt === 0 && c.raft(4).role !== 'leader') c.raft(4).campaign();
      c.stabilize(others);
      if (electedAt === 0 && others.some((id) => c.raft(id).role === 'leader')) electedAt = g;
      const majorityCommit = Math.max(...others.map((id) => c.raft(id).log.committed));
      c.tick(1);
      if (old.role !== 'leader') continue;
      for (const [index, ctx] of read(c, 1, `g${g}`).states) {
        t.true(index >= majorityCommit, `stale read ${ctx}: index ${index}, but ${majorityCommit} is committed`);
        served++;
        lastServed = g;
      }
    }
    t.is(c.leader(), 4);
    t.true(c.raft(4).log.committed > oldCommit);
    if (mode === 'lease') {
      t.true(served > 0);
      t.true(lastServed < electedAt, `last lease read at tick ${lastServed}, new leader at tick ${electedAt}`);
      t.true(electedAt >= ELECTION, `the restarted followers held off the election until tick ${electedAt}`);
    } else {
      t.is(served, 0, 'no lease reads in safe mode');
      t.is(electedAt, 1, 'without a lease the restarted followers vote at once');
    }
    t.deepEqual(c.violations, []);
  });
}

test('lease read: a follower that acknowledged the lease does not campaign on demand while it lasts', (t) => {
  const c = newCluster(3, LEASE);
  boot(t, c, 1);
  // 3 stops hearing from the leader for more than an election timeout: the lease rests on 2.
  c.cut(1, 3);
  c.tickAll(ELECTION + 1);
  const old = c.raft(1);
  t.is(old.role, 'leader');
  const oldTerm = old.term;
  const commit = old.log.committed;
  c.isolate(1);
  // An operator (or a test) asks 2 to campaign right after it acknowledged the lease:
  // 3 would grant, and 2's own vote would break the promise its ack made.
  c.raft(2).campaign();
  c.stabilize([2, 3]);
  t.is(c.raft(2).role, 'follower');
  t.is(c.raft(2).term, oldTerm);
  t.deepEqual(read(c, 1, 'r').states, [[commit, 'r']]);
  // Once its promise ran out, it may.
  c.tick(2, ELECTION);
  c.raft(2).campaign();
  c.stabilize([2, 3]);
  t.is(c.raft(2).role, 'leader');
  t.deepEqual(c.violations, []);
});

for (const order of ['vote after the term change', 'vote at a later term'] as const) {
  test(`lease read: a follower's promise survives a term change it did not vote for (${order})`, (t) => {
    // No pre-vote: a candidate's term reaches others with its vote requests.
    const c = newCluster(3, { ...LEASE, preVote: false });
    boot(t, c, 2);
    // A heartbeat of 2's term to 3 is held up on the wire...
    c.tick(2);
    c.processReady(2);
    const stale = c.take((m) => m.type === 'heartbeat' && m.to === 3);
    t.is(stale.length, 1);
    c.stabilize();
    // ...while 1 takes over.
    c.raft(2).transferLeader(1);
    c.stabilize();
    const lead = c.raft(1);
    t.is(lead.role, 'leader');
    // 3 stops hearing from 1: the lease rests on 2, which has just acknowledged.
    c.cut(1, 3);
    c.tickAll(ELECTION + 1);
    t.is(lead.role, 'leader');
    const commit = lead.log.committed;
    c.isolate(1);
    // 3 campaigns; 2 ignores it (its promise to 1)...
    const r3 = c.raft(3);
    r3.campaign();
    t.is(r3.role, 'candidate');
    c.processReady(3);
    const votes = c.take((m) => m.type === 'vote' && m.to === 2);
    t.is(votes.length, 1);
    // ...but the stale heartbeat from 2 reaches 3, whose answer carries the new term back
    // to 2, which becomes a follower of no one at that term.
    r3.step(stale[0]!);
    c.processReady(3);
    c.deliver((m) => m.type === 'appResp' && m.to === 2);
    t.is(c.raft(2).term, r3.term);
    t.is(c.raft(2).lead, NONE);
    if (order === 'vote after the term change') {
      c.raft(2).step(votes[0]!);
    } else {
      r3.campaign();
    }
    c.stabilize([2, 3]);
    t.not(r3.role, 'leader', '2 still keeps the promise its ack made');
    t.deepEqual(read(c, 1, 'r').states, [[commit, 'r']]);
    // Once the promise ran out, 3 can win.
    c.tick(2, ELECTION);
    r3.campaign();
    c.stabilize([2, 3]);
    t.is(r3.role, 'leader');
    t.deepEqual(c.violations, []);
  });
}

// ---------------------------------------------------------------------------------------
// Leadership transfer: its votes bypass the followers' lease refusal

test('lease read: none while a transfer is in progress, nor for the rest of the term once a timeoutNow went out', (t) => {
  const c = newCluster(3, LEASE);
  boot(t, c, 1);
  renewLease(c, 1);
  const lead = c.raft(1);
  const term = lead.term;
  const commit = lead.log.committed;
  lead.transferLeader(2);
  c.processReady(1);
  // The timeoutNow is held up on the wire.
  const held = c.take((m) => m.type === 'timeoutNow');
  t.is(held.length, 1);
  const during = read(c, 1, 'during');
  t.deepEqual(during.states, [], 'no lease read during the transfer');
  t.is(during.sent.filter(isBeat('during')).length, 2);
  c.stabilize();
  t.deepEqual(statesOf(c, 1, 'during'), [[commit, 'during']], 'answered by the heartbeat round');
  // The transfer times out; leases stay void for the rest of the term.
  c.tickAll(ELECTION);
  t.is(lead.status().transferee, NONE);
  t.is(lead.role, 'leader');
  c.tickAll(2 * ELECTION);
  t.deepEqual(read(c, 1, 'later').states, []);
  c.stabilize();
  t.deepEqual(statesOf(c, 1, 'later'), [[commit, 'later']]);
  // Why: the timeoutNow may still arrive. The leader is cut off meanwhile...
  c.isolate(1);
  c.raft(2).step(held[0]!);
  c.stabilize([2, 3]);
  t.is(c.raft(2).role, 'leader', 'the late transfer election got past 3, which had just heard from 1');
  t.true(c.raft(2).term > term);
  t.true(c.raft(2).log.committed > commit);
  // ...and must not answer from its now stale commit index.
  t.deepEqual(read(c, 1, 'stale').states, []);
  t.deepEqual(c.violations, []);
});

test('lease read: a transfer given up before its timeoutNow went out voids the lease only while it lasts', (t) => {
  const c = newCluster(3, LEASE);
  boot(t, c, 1);
  // 3 falls behind, so the transfer to it waits for it to catch up (it never does).
  c.cut(1, 3);
  const lead = c.raft(1);
  lead.propose(utf8('x'));
  c.stabilize();
  const commit = lead.log.committed;
  lead.transferLeader(3);
  c.processReady(1);
  t.is(c.queue.filter((m) => m.type === 'timeoutNow').length, 0);
  renewLease(c, 1);
  t.deepEqual(read(c, 1, 'during').states, []);
  c.stabilize();
  t.deepEqual(statesOf(c, 1, 'during'), [[commit, 'during']]);
  for (let i = 0; i < ELECTION; i++) {
    c.tick(1);
    c.tick(2);
    c.stabilize([1, 2]);
  }
  t.is(lead.status().transferee, NONE);
  t.deepEqual(read(c, 1, 'after').states, [[commit, 'after']]);
});

// ---------------------------------------------------------------------------------------
// Lease heartbeat contexts are reserved

test('readIndex refuses a ctx shaped like a lease heartbeat context (in either mode)', (t) => {
  for (const cfg of [LEASE, SAFE]) {
    const c = newCluster(3, cfg);
    boot(t, c, 1);
    const leaseShaped = new Uint8Array(9);
    leaseShaped[0] = 0xfe;
    new DataView(leaseShaped.buffer).setFloat64(1, 5);
    refusal(t, () => c.raft(1).readIndex(leaseShaped), 'invalid');
    refusal(t, () => c.raft(2).readIndex(leaseShaped), 'invalid');
    // Not lease-shaped: a different length, or no whole tick.
    const short = leaseShaped.slice(0, 8);
    const notATick = leaseShaped.slice();
    new DataView(notATick.buffer).setFloat64(1, 0.5);
    for (const ctx of [short, notATick]) {
      c.raft(1).readIndex(ctx);
      c.stabilize();
    }
    t.is(c.get(1).readStates.length, 2);
  }
});

test('lease heartbeats carry the tick they were sent at, and followers echo it', (t) => {
  const c = newCluster(3, LEASE);
  boot(t, c, 1);
  c.tick(1);
  c.processReady(1);
  const beats = c.queue.filter((m) => m.type === 'heartbeat');
  t.is(beats.length, 2);
  const ticks = c.raft(1).tickCount();
  for (const b of beats) {
    if (b.type !== 'heartbeat') continue;
    t.is(b.ctx.length, 9);
    t.is(b.ctx[0], 0xfe);
    t.is(new DataView(b.ctx.buffer, b.ctx.byteOffset, 9).getFloat64(1), ticks);
  }
  c.deliver();
  c.processReady(2);
  c.processReady(3);
  const echoes = c.queue.filter((m) => m.type === 'heartbeatResp');
  t.is(echoes.length, 2);
  for (const e of echoes) if (e.type === 'heartbeatResp') t.deepEqual(e.ctx, (beats[0] as { ctx: Uint8Array }).ctx);
  // In safe mode regular heartbeats carry no ctx.
  const s = newCluster(3, SAFE);
  boot(t, s, 1);
  s.tick(1);
  s.processReady(1);
  t.true(s.queue.filter((m) => m.type === 'heartbeat').every((m) => m.type === 'heartbeat' && m.ctx.length === 0));
});

test('config: lease reads need checkQuorum', (t) => {
  t.throws(() => newCluster(1, { checkQuorum: false, readOnlyOption: 'lease' }), { message: /checkQuorum/ });
});

// ---------------------------------------------------------------------------------------
// Forwarded proposals

const prop = (from: NodeId, to: NodeId, ...data: string[]): PropMsg => ({ type: 'prop', from, to, term: 0, data: data.map(utf8) });

test('prop: a follower forwards proposals; the leader appends them in order, as one batch', (t) => {
  const c = newCluster(3, {});
  boot(t, c, 1);
  const lead = c.raft(1);
  const last = lead.log.lastIndex();
  // The transport carries the follower's batch to the leader.
  c.send({ ...prop(2, 1, 'a', 'b', 'c'), term: c.raft(2).term });
  c.deliver();
  t.is(lead.log.lastIndex(), last + 3);
  const rd = c.processReady(1)!;
  t.deepEqual(rd.entries.map((e) => [e.index, e.term, text(e.data)]), [
    [last + 1, lead.term, 'a'],
    [last + 2, lead.term, 'b'],
    [last + 3, lead.term, 'c'],
  ]);
  const apps = c.queue.filter((m) => m.type === 'app');
  t.is(apps.length, 2, 'one AppMsg per follower');
  for (const m of apps) if (m.type === 'app') t.deepEqual(m.entries.map((e) => text(e.data)), ['a', 'b', 'c']);
  c.stabilize();
  for (const id of [1, 2, 3]) t.deepEqual(c.get(id).appData(), ['a', 'b', 'c']);
  t.deepEqual(c.violations, []);
});

test('prop: term-less — a stale or future term neither matters nor disturbs the leader', (t) => {
  const c = newCluster(3, {});
  boot(t, c, 1);
  const lead = c.raft(1);
  const term = lead.term;
  lead.step({ ...prop(2, 1, 'old'), term: term - 1 });
  lead.step({ ...prop(3, 1, 'new'), term: term + 5 });
  t.is(lead.role, 'leader');
  t.is(lead.term, term);
  c.stabilize();
  t.deepEqual(c.get(2).appData(), ['old', 'new']);
});

test('prop: a follower, a pre-candidate or a candidate drops it', (t) => {
  for (const preVote of [false, true]) {
    const c = newCluster(3, { preVote });
    boot(t, c, 1);
    const f = c.raft(2);
    const last = f.log.lastIndex();
    f.step(prop(3, 2, 'x'));
    t.is(f.log.lastIndex(), last);
    t.false(f.hasReady(), 'nothing to write or send');
    c.isolate(3);
    const cand = c.raft(3);
    cand.campaign();
    t.is(cand.role, preVote ? 'preCandidate' : 'candidate');
    c.processReady(3);
    const candLast = cand.log.lastIndex();
    cand.step(prop(2, 3, 'y'));
    t.is(cand.log.lastIndex(), candLast);
    t.false(cand.hasReady());
    c.heal();
    c.stabilize();
    for (const id of [1, 2, 3]) t.deepEqual(c.get(id).appData(), [], `preVote ${preVote}: node ${id}`);
  }
});

test('prop: a leader drops it while transferring leadership, and when it is empty', (t) => {
  const c = newCluster(3, {});
  boot(t, c, 1);
  const lead = c.raft(1);
  const last = lead.log.lastIndex();
  lead.step(prop(2, 1));
  t.is(lead.log.lastIndex(), last, 'an empty batch is dropped');
  c.cut(1, 3);
  lead.propose(utf8('p'));
  c.stabilize();
  lead.transferLeader(3); // 3 lags behind: the transfer waits for it
  const before = lead.log.lastIndex();
  t.notThrows(() => lead.step(prop(2, 1, 'during')));
  t.is(lead.log.lastIndex(), before, 'dropped during the transfer');
  refusal(t, () => lead.propose(utf8('direct')), 'transferring');
  c.stabilize();
  t.false(c.get(2).appData().includes('during'));
});

test('prop: addressed to someone else, it is ignored', (t) => {
  const c = newCluster(3, {});
  boot(t, c, 1);
  const lead = c.raft(1);
  const last = lead.log.lastIndex();
  lead.step(prop(2, 3, 'misrouted'));
  t.is(lead.log.lastIndex(), last);
});

test('prop and lease contexts survive the codec round trip', (t) => {
  const c = newCluster(3, LEASE);
  boot(t, c, 1);
  c.tick(1);
  c.processReady(1);
  const beat = c.queue.find((m) => m.type === 'heartbeat')!;
  const msgs: Message[] = [
    { ...prop(2, 1, 'a', '', 'ccc'), term: 7 },
    prop(3, 1),
    { type: 'prop', from: 2, to: 1, term: 0, data: [new Uint8Array([0, 255, 1])] },
    beat,
    { type: 'heartbeatResp', from: 2, to: 1, term: beat.term, ctx: (beat as { ctx: Uint8Array }).ctx },
  ];
  const back = decodeMessages(encodeMessages(msgs));
  t.deepEqual(back, msgs);
  // A decoded prop is appended like the original.
  const lead = c.raft(1);
  const last = lead.log.lastIndex();
  lead.step(back[0]!);
  t.is(lead.log.lastIndex(), last + 3);
  t.deepEqual(lead.log.slice(last + 1, last + 4, Number.MAX_SAFE_INTEGER).map((e) => text(e.data)), ['a', '', 'ccc']);
});
