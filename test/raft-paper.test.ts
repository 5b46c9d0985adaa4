/**
 * The Raft paper's scenarios (Ongaro & Ousterhout 2014, and Ongaro's thesis), run on a
 * small deterministic in-memory network of real Raft cores (test/interaction/cluster.ts).
 * Each test names the section it checks. Every cluster also checks Election Safety and
 * State Machine Safety as it runs (`violations`).
 */

import test, { type ExecutionContext } from 'ava';
import { describeMessage } from '../src/raft/describe.ts';
import {
  ProposalRefused,
  type AppMsg,
  type AppRespMsg,
  type Config,
  type Message,
  type NodeId,
  type RefusalReason,
  type VoteMsg,
} from '../src/raft/types.ts';
import { Cluster, seededRandom, text, utf8 } from './interaction/cluster.ts';

const range = (n: number): NodeId[] => Array.from({ length: n }, (_, i) => i + 1);

/**
 * `n` voters (ids 1..n) bootstrapped from a snapshot at index 1 / term 1, plus optional
 * learners that share the same initial membership.
 */
function newCluster(n: number, cfg: Partial<Config> = {}, opts: { learners?: NodeId[]; seed?: number } = {}): Cluster {
  const seed = opts.seed ?? 1;
  const c = new Cluster(cfg, (id) => seededRandom(seed * 1000 + id));
  const voters = range(n);
  const learners = opts.learners ?? [];
  for (const id of [...voters, ...learners]) c.add(id, { voters, learners, snapshotIndex: 1 });
  return c;
}

/** `id` campaigns and everything settles; it must end up leader. */
function elect(t: ExecutionContext, c: Cluster, id: NodeId): void {
  c.raft(id).campaign();
  c.stabilize();
  t.is(c.raft(id).role, 'leader', `node ${id} should have won the election`);
}

function refusal(t: ExecutionContext, f: () => unknown, reason: RefusalReason): void {
  const err = t.throws(f, { instanceOf: ProposalRefused });
  t.is(err?.reason, reason);
}

function noViolations(t: ExecutionContext, c: Cluster): void {
  t.deepEqual(c.violations, []);
}

const isApp = (m: Message): m is AppMsg => m.type === 'app';
const isAppResp = (m: Message): m is AppRespMsg => m.type === 'appResp';

// ---------------------------------------------------------------------------------------
// §5.2 Leader election

for (const n of [3, 5]) {
  test(`§5.2 election: a ${n}-node cluster elects exactly one leader by timeouts alone`, (t) => {
    for (let seed = 1; seed <= 5; seed++) {
      const c = newCluster(n, {}, { seed });
      let ticks = 0;
      while (c.leader() === undefined) {
        c.tickAll();
        if (++ticks > 200) t.fail(`seed ${seed}: no leader after 200 ticks`);
      }
      // Let the leader's no-op commit everywhere.
      c.tickAll(3);
      const lead = c.leader()!;
      const term = c.raft(lead).term;
      for (const id of c.ids()) {
        const r = c.raft(id);
        t.is(r.term, term, `seed ${seed}: node ${id} term`);
        t.is(r.lead, lead, `seed ${seed}: node ${id} knows the leader`);
        t.is(r.role === 'leader', id === lead);
      }
      t.true(ticks <= 4 * 10, `seed ${seed}: took ${ticks} ticks`);
      noViolations(t, c);
    }
  });
}

test('§5.2 election: a candidate needs a majority (2 of 5 cannot elect, 3 of 5 can)', (t) => {
  const c = newCluster(5);
  for (const a of [1, 2]) for (const b of [3, 4, 5]) c.cut(a, b);
  c.raft(1).campaign();
  c.stabilize();
  t.not(c.raft(1).role, 'leader');
  c.raft(3).campaign();
  c.stabilize();
  t.is(c.raft(3).role, 'leader');
  noViolations(t, c);
});

test('§5.2 election: each node votes at most once per term', (t) => {
  const c = newCluster(3);
  // 1 and 2 campaign at the same term; 3 hears 1 first and must refuse 2.
  c.raft(1).campaign();
  c.raft(2).campaign();
  c.processReady(1);
  c.processReady(2);
  c.deliver((m) => m.to === 3 && m.from === 1);
  c.deliver((m) => m.to === 3 && m.from === 2);
  c.processReady(3);
  const answers = c.queue.filter((m) => m.type === 'voteResp').map(describeMessage);
  t.deepEqual(answers, ['3->1 voteResp term=2 granted', '3->2 voteResp term=2 rejected']);
  c.stabilize();
  t.is(c.leader(), 1);
  t.is(c.raft(2).role, 'follower');
  noViolations(t, c);
});

test('§5.1 persistent state: a restarted node remembers its term and vote (no second vote)', (t) => {
  const c = newCluster(3);
  c.raft(1).campaign();
  c.processReady(1);
  c.deliver((m) => m.to === 2);
  c.processReady(2); // node 2 persists vote=1 for term 2, then answers
  c.take(); // every answer is lost
  c.restart(2);
  t.is(c.raft(2).term, 2);
  t.is(c.raft(2).vote, 1);
  // Node 3 campaigns for the same term 2: node 2 must refuse.
  c.raft(3).campaign();
  t.is(c.raft(3).term, 2);
  c.processReady(3);
  c.deliver((m) => m.to === 2);
  c.processReady(2);
  t.deepEqual(c.queue.filter((m) => m.type === 'voteResp').map(describeMessage), ['2->3 voteResp term=2 rejected']);
});

test('§5.1 persistent state: a cluster restarted as a whole keeps its committed log', (t) => {
  const c = newCluster(3);
  elect(t, c, 1);
  for (const d of ['a', 'b']) c.raft(1).propose(utf8(d));
  c.stabilize();
  c.tickAll(1);
  c.queue = [];
  for (const id of c.ids()) c.restart(id);
  elect(t, c, 2);
  c.raft(2).propose(utf8('c'));
  c.stabilize();
  c.tickAll(1);
  for (const id of c.ids()) t.deepEqual(c.get(id).appData(), ['a', 'b', 'c'], `node ${id}`);
  noViolations(t, c);
});

// ---------------------------------------------------------------------------------------
// §5.4.1 Election restriction

const voteCases: { name: string; candidate: number[]; voter: number[]; granted: boolean }[] = [
  { name: 'higher last term, shorter log', candidate: [1, 3], voter: [1, 1, 2], granted: true },
  { name: 'same last term, longer log', candidate: [1, 1, 2, 2], voter: [1, 1, 2], granted: true },
  { name: 'same last term, same length', candidate: [1, 1, 2], voter: [1, 1, 2], granted: true },
  { name: 'same last term, shorter log', candidate: [1, 2], voter: [1, 1, 2], granted: false },
  { name: 'lower last term, longer log', candidate: [1, 1, 1, 1, 1], voter: [1, 1, 2], granted: false },
  { name: 'empty log', candidate: [], voter: [1], granted: false },
];

for (const vc of voteCases) {
  test(`§5.4.1 election restriction: ${vc.name} → ${vc.granted ? 'granted' : 'rejected'}`, (t) => {
    const c = new Cluster();
    const voters = [1, 2, 3];
    c.add(1, { voters, logTerms: vc.candidate, hardState: { term: 3 } });
    c.add(2, { voters, logTerms: vc.voter, hardState: { term: 3 } });
    c.add(3, { voters, logTerms: vc.voter, hardState: { term: 3 } });
    c.isolate(3);
    c.raft(1).campaign();
    c.processReady(1);
    c.deliver();
    c.processReady(2);
    const resp = c.queue.find((m) => m.type === 'voteResp');
    t.truthy(resp);
    t.is(resp!.type === 'voteResp' && !resp!.reject, vc.granted);
    c.stabilize();
    t.is(c.raft(1).role === 'leader', vc.granted);
  });
}

test('§5.4.1 a node that missed committed entries cannot become leader', (t) => {
  const c = newCluster(3);
  elect(t, c, 1);
  c.isolate(3);
  for (const d of ['a', 'b', 'c']) c.raft(1).propose(utf8(d));
  c.stabilize();
  c.heal();
  // Node 3 campaigns (no pre-vote): it bumps everyone's term but nobody votes for it.
  c.raft(3).campaign();
  c.stabilize();
  t.not(c.raft(3).role, 'leader');
  t.is(c.leader(), undefined, 'the old leader stepped down on seeing the higher term');
  // One of the up-to-date nodes wins the next election, and node 3 catches up.
  c.raft(2).campaign();
  c.stabilize();
  t.is(c.leader(), 2);
  c.tickAll(2);
  t.deepEqual(c.get(3).appData(), ['a', 'b', 'c']);
  noViolations(t, c);
});

// ---------------------------------------------------------------------------------------
// §5.3 Log replication: Figure 7

const figure7Leader = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
const figure7: Record<string, number[]> = {
  a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
  b: [1, 1, 1, 4],
  c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
  d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
  e: [1, 1, 1, 4, 4, 4, 4],
  f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
};

for (const [name, follower] of Object.entries(figure7)) {
  test(`§5.3 Figure 7 (${name}): the follower's log converges to the leader's`, (t) => {
    // Node 3 holds the leader's log too, so that node 1 can win term 8 even when the
    // follower (c, d) has a log that is more up to date than the leader's.
    const c = new Cluster();
    const voters = [1, 2, 3];
    c.add(1, { voters, logTerms: figure7Leader, hardState: { term: 7 } });
    c.add(2, { voters, logTerms: follower, hardState: { term: 7 } });
    c.add(3, { voters, logTerms: figure7Leader, hardState: { term: 7 } });
    elect(t, c, 1);
    t.is(c.raft(1).term, 8);
    c.raft(1).propose(utf8('x'));
    c.stabilize();
    c.tickAll(2);
    const want = [...figure7Leader, 8, 8];
    t.deepEqual(c.get(1).logTerms(), want);
    t.deepEqual(c.get(2).logTerms(), want, `follower ${name}`);
    t.deepEqual(c.get(2).log(), c.get(1).log());
    t.is(c.raft(2).log.committed, 12);
    t.deepEqual(c.get(2).appData(), c.get(1).appData());
    noViolations(t, c);
  });
}

// ---------------------------------------------------------------------------------------
// §5.4.2 Committing entries from previous terms: Figure 8

/**
 * Figure 8 (a)-(c): S1 led term 2 and stored 2/2 on S2 only; S5 led term 3 and stored
 * 2/3 on itself only. Now S1 is elected for term 4 while S4 and S5 are down, and
 * replicates 2/2 to S3: 2/2 is on a majority (S1, S2, S3), but it is from term 2.
 */
function figure8(t: ExecutionContext): Cluster {
  const c = new Cluster({ maxSizePerMsg: 1 });
  const voters = [1, 2, 3, 4, 5];
  c.add(1, { voters, logTerms: [1, 2], hardState: { term: 3, vote: 0, commit: 1 } });
  c.add(2, { voters, logTerms: [1, 2], hardState: { term: 2, vote: 1, commit: 1 } });
  c.add(3, { voters, logTerms: [1], hardState: { term: 3, vote: 5, commit: 1 } });
  c.add(4, { voters, logTerms: [1], hardState: { term: 3, vote: 5, commit: 1 } });
  c.add(5, { voters, logTerms: [1, 3], hardState: { term: 3, vote: 5, commit: 1 } });
  c.stabilize();
  c.isolate(4);
  c.isolate(5);
  // S1 wins term 4 with S2 and S3.
  c.raft(1).campaign();
  c.processReady(1);
  c.deliver();
  c.processReady(2);
  c.processReady(3);
  c.deliver();
  t.is(c.raft(1).role, 'leader');
  t.is(c.raft(1).term, 4);
  // The no-op 3/4 goes out, but S2 does not get it (the message is lost); S3 rejects it
  // (it lacks index 2), so S1 backs up and sends 2/2 alone.
  c.processReady(1);
  c.take((m) => m.to === 2);
  c.deliver((m) => m.to === 3);
  c.processReady(3);
  c.deliver((m) => m.to === 1);
  c.processReady(1);
  const toS3 = c.queue.filter((m): m is AppMsg => isApp(m) && m.to === 3);
  t.deepEqual(toS3.map((m) => m.entries.map((e) => `${e.term}/${e.index}`)), [['2/2']]);
  c.deliver((m) => m.to === 3);
  c.processReady(3);
  c.deliver((m) => m.to === 1);
  c.processReady(1);
  t.deepEqual(c.get(3).logTerms(), [1, 2]);
  return c;
}

test('§5.4.2 Figure 8: an old-term entry on a majority is not committed by counting replicas', (t) => {
  const c = figure8(t);
  const s1 = c.raft(1);
  const matches = Object.fromEntries(s1.status().progress.map((p) => [p.id, p.match]));
  t.true(matches[1]! >= 2 && matches[3] === 2, 'S1 knows that S1 and S3 hold index 2');
  t.is(s1.log.committed, 1, 'index 2 (term 2) must not be committed by counting replicas');
  // (d): S1 crashes; S5 is elected with S2, S3, S4 (its last term 3 beats their 2) and
  // overwrites index 2 everywhere. Had 2/2 been committed, this would lose it.
  c.take((m) => m.from === 1);
  c.heal();
  c.isolate(1);
  c.raft(5).campaign();
  c.stabilize();
  if (c.raft(5).role !== 'leader') {
    // S2 and S3 already voted in term 4: S5 needs term 5.
    c.raft(5).campaign();
    c.stabilize();
  }
  t.is(c.raft(5).role, 'leader');
  c.tickAll(2);
  for (const id of [2, 3, 4, 5]) t.is(c.get(id).log()[1]?.term, 3, `node ${id} index 2 is 3/2 now`);
  noViolations(t, c);
});

test('§5.4.2 Figure 8 (e): once an entry of the current term commits, the older one commits with it', (t) => {
  const c = figure8(t);
  // S1 now gets its term-4 no-op to S2 and S3 before any crash.
  c.tickAll(1);
  c.stabilize([1, 2, 3]);
  const s1 = c.raft(1);
  t.is(s1.log.committed, 3);
  t.deepEqual(c.get(1).appData(), ['t1i1', 't2i2']);
  // S5 can no longer win: a majority has a log with last term 4.
  c.heal();
  c.raft(5).campaign();
  c.stabilize();
  c.raft(5).campaign();
  c.stabilize();
  t.not(c.raft(5).role, 'leader');
  noViolations(t, c);
});

// ---------------------------------------------------------------------------------------
// Stale leaders (§5.3, thesis §6.2 check-quorum)

for (const checkQuorum of [true, false]) {
  test(`a partitioned leader cannot commit and steps down (checkQuorum=${checkQuorum})`, (t) => {
    const c = newCluster(5, { checkQuorum });
    elect(t, c, 1);
    for (const a of [1, 2]) for (const b of [3, 4, 5]) c.cut(a, b);
    c.raft(1).propose(utf8('stale'));
    c.stabilize();
    t.is(c.raft(1).log.committed, c.raft(1).log.lastIndex() - 1, 'the proposal stays uncommitted');
    // The majority elects a new leader and commits.
    let ticks = 0;
    while (![3, 4, 5].includes(c.leader() ?? 0) || c.raft(c.leader()!).term === c.raft(1).term) {
      c.tickAll();
      if (++ticks > 200) return t.fail('the majority did not elect a leader');
    }
    const lead = [3, 4, 5].find((id) => c.raft(id).role === 'leader')!;
    c.raft(lead).propose(utf8('fresh'));
    c.stabilize();
    c.tickAll(20);
    if (checkQuorum) {
      t.not(c.raft(1).role, 'leader', 'check-quorum: the isolated leader stepped down by itself');
    }
    t.false(c.get(1).appData().includes('stale'));
    c.heal();
    c.tickAll(30);
    const final = c.leader()!;
    t.truthy(final);
    for (const id of c.ids()) {
      t.deepEqual(c.get(id).log(), c.get(final).log(), `node ${id} log`);
      t.deepEqual(c.get(id).appData(), ['fresh'], `node ${id} state`);
    }
    noViolations(t, c);
  });
}

// ---------------------------------------------------------------------------------------
// Pre-vote (thesis §9.6)

for (const preVote of [true, false]) {
  test(`pre-vote=${preVote}: a node back from a partition ${preVote ? 'does not disrupt' : 'disrupts'} the leader`, (t) => {
    const c = newCluster(3, { preVote });
    elect(t, c, 1);
    const term = c.raft(1).term;
    c.isolate(3);
    for (let i = 0; i < 100; i++) {
      c.tick(3);
      c.stabilize();
    }
    if (preVote) t.is(c.raft(3).term, term, 'a pre-candidate never bumps its term');
    else t.true(c.raft(3).term > term + 3);
    c.heal();
    // The leader heartbeats; node 3 keeps timing out as before.
    for (let i = 0; i < 30; i++) {
      c.tick(1);
      c.tick(3);
      c.stabilize();
    }
    if (preVote) {
      t.is(c.leader(), 1);
      t.is(c.raft(1).term, term);
      t.is(c.raft(3).lead, 1);
    } else {
      t.true(c.raft(1).term > term, 'the leader was forced out of its term');
    }
    noViolations(t, c);
  });
}

// ---------------------------------------------------------------------------------------
// Leader lease (thesis §4.2.3): with check-quorum, a follower that heard from the leader
// within the election timeout ignores vote requests, unless they come from a transfer.

const leaseCases = [
  { name: 'recent leader, ordinary vote', elapsed: 0, transfer: false, granted: false },
  { name: 'recent leader, transfer vote', elapsed: 0, transfer: true, granted: true },
  { name: 'leader silent for an election timeout', elapsed: 10, transfer: false, granted: true },
];

for (const lc of leaseCases) {
  test(`leader lease: ${lc.name} → ${lc.granted ? 'granted' : 'ignored'}`, (t) => {
    // random = n-1: followers never time out by themselves within these ticks.
    const c = new Cluster({ checkQuorum: true }, () => (n) => n - 1);
    const voters = [1, 2, 3];
    for (const id of voters) c.add(id, { voters, snapshotIndex: 1 });
    elect(t, c, 1);
    const term = c.raft(2).term;
    c.tick(2, lc.elapsed);
    const r2 = c.raft(2);
    const vote: VoteMsg = {
      type: 'vote', from: 3, to: 2, term: term + 1,
      lastIndex: r2.log.lastIndex(), lastTerm: r2.log.lastTerm(), transfer: lc.transfer,
    };
    r2.step(vote);
    if (lc.granted) {
      t.is(r2.term, term + 1);
      t.is(r2.vote, 3);
      c.processReady(2);
      t.truthy(c.queue.find((m) => m.type === 'voteResp' && !m.reject && m.to === 3));
    } else {
      t.is(r2.term, term, 'no term change');
      t.is(r2.lead, 1);
      c.processReady(2);
      t.is(c.queue.filter((m) => m.to === 3).length, 0, 'no answer at all');
    }
  });
}

// ---------------------------------------------------------------------------------------
// ReadIndex (thesis §6.4)

test('ReadIndex: the read point is the commit index, confirmed by a heartbeat quorum', (t) => {
  const c = newCluster(5);
  elect(t, c, 1);
  const lead = c.raft(1);
  const commitAtRequest = lead.log.committed;
  lead.readIndex(utf8('r1'));
  // A proposal right after the request must not move the read point.
  lead.propose(utf8('later'));
  c.processReady(1);
  const beats = c.queue.filter((m) => m.type === 'heartbeat' && text(m.ctx) === 'r1');
  t.is(beats.length, 4, 'a heartbeat with the ctx goes to every follower');
  t.deepEqual(c.get(1).readStates, []);
  // One follower's answer: 2 of 5 is not a quorum.
  c.deliver((m) => m.to === 2 && m.type === 'heartbeat');
  c.processReady(2);
  c.deliver((m) => m.to === 1 && m.type === 'heartbeatResp');
  c.processReady(1);
  t.deepEqual(c.get(1).readStates, []);
  // The second answer completes the quorum (leader + 2 + 3).
  c.deliver((m) => m.to === 3 && m.type === 'heartbeat');
  c.processReady(3);
  c.deliver((m) => m.to === 1 && m.type === 'heartbeatResp');
  c.processReady(1);
  t.deepEqual(c.get(1).readStates.map((r) => [r.index, text(r.ctx)]), [[commitAtRequest, 'r1']]);
  c.stabilize();
  t.true(lead.log.committed > commitAtRequest);
  noViolations(t, c);
});

test('ReadIndex: a new leader answers only after committing an entry of its term', (t) => {
  const c = newCluster(3);
  c.raft(1).campaign();
  c.processReady(1);
  c.deliver();
  c.processReady(2);
  c.processReady(3);
  c.deliver();
  t.is(c.raft(1).role, 'leader');
  c.raft(1).readIndex(utf8('early'));
  c.processReady(1);
  t.false(c.queue.some((m) => m.type === 'heartbeat' && m.ctx.length > 0), 'no read round before the no-op commits');
  c.stabilize();
  t.deepEqual(c.get(1).readStates.map((r) => [r.index, text(r.ctx)]), [[2, 'early']]);
});

test('ReadIndex: a follower forwards to the leader and gets the read point back', (t) => {
  const c = newCluster(3);
  elect(t, c, 1);
  c.raft(1).propose(utf8('a'));
  c.stabilize();
  c.raft(3).readIndex(utf8('f'));
  c.stabilize();
  t.deepEqual(c.get(3).readStates.map((r) => [r.index, text(r.ctx)]), [[3, 'f']]);
  t.deepEqual(c.get(1).readStates, []);
});

// ---------------------------------------------------------------------------------------
// Leadership transfer (thesis §3.10)

test('leader transfer: the target is caught up first, then timeoutNow makes it leader', (t) => {
  const c = newCluster(3, { preVote: true, checkQuorum: true });
  elect(t, c, 1);
  const term = c.raft(1).term;
  c.isolate(3);
  for (const d of ['a', 'b', 'c']) c.raft(1).propose(utf8(d));
  c.stabilize();
  c.heal();
  const from = c.sent.length;
  c.raft(1).transferLeader(3);
  refusal(t, () => c.raft(1).propose(utf8('no')), 'transferring');
  c.stabilize();
  t.is(c.leader(), 3);
  t.is(c.raft(3).term, term + 1);
  // Order on the wire: appends to 3 and its acknowledgement of the leader's last index
  // come before the timeoutNow.
  const flow = c.sent.slice(from).filter((m) => (m.from === 1 && m.to === 3) || (m.from === 3 && m.to === 1));
  const tn = flow.findIndex((m) => m.type === 'timeoutNow');
  t.true(tn > 0);
  const before = flow.slice(0, tn);
  t.true(before.some((m) => isApp(m) && m.entries.length > 0), 'entries were sent before timeoutNow');
  const lastAck = before.filter(isAppResp).filter((m) => !m.reject).pop();
  t.is(lastAck?.index, 5, 'timeoutNow only after 3 acknowledged the last index');
  t.deepEqual(c.get(3).appData(), ['a', 'b', 'c']);
  noViolations(t, c);
});

test('leader transfer: aborted after an election timeout if the target does not respond', (t) => {
  const c = newCluster(3, {}, { seed: 7 });
  elect(t, c, 1);
  c.isolate(2);
  c.raft(1).transferLeader(2);
  t.is(c.raft(1).status().transferee, 2);
  for (let i = 0; i < 10; i++) {
    c.tick(1);
    c.stabilize();
  }
  t.is(c.raft(1).status().transferee, 0);
  t.is(c.raft(1).role, 'leader');
  t.notThrows(() => c.raft(1).propose(utf8('ok again')));
});

// ---------------------------------------------------------------------------------------
// Flow control and limits

test('proposals beyond maxUncommittedEntriesSize are refused until entries commit', (t) => {
  const c = newCluster(3, { maxUncommittedEntriesSize: 200 });
  elect(t, c, 1);
  c.isolate(1);
  const fifty = utf8('x'.repeat(50)); // 74 bytes with the entry overhead
  t.notThrows(() => c.raft(1).propose(fifty));
  t.notThrows(() => c.raft(1).propose(fifty));
  refusal(t, () => c.raft(1).propose(fifty), 'uncommittedLimit');
  c.stabilize();
  c.heal();
  c.tickAll(3);
  t.is(c.raft(1).log.committed, c.raft(1).log.lastIndex());
  t.notThrows(() => c.raft(1).propose(fifty));
  noViolations(t, c);
});

test('flow control: at most maxInflightMsgs appends in flight, each within maxSizePerMsg', (t) => {
  const c = newCluster(3, { maxInflightMsgs: 3, maxSizePerMsg: 100 });
  elect(t, c, 1);
  const from = c.sent.length;
  // Node 2 does not answer for now: its appends stay queued.
  for (let i = 0; i < 10; i++) {
    c.raft(1).propose(utf8(`e${i}--------`)); // 10 bytes: 34 with overhead, 2 per message
    c.stabilize([1, 3]);
  }
  const pending = c.queue.filter((m) => isApp(m) && m.to === 2 && m.entries.length > 0);
  t.is(pending.length, 3, 'the window to node 2 is full at 3 messages');
  // Release node 2 one delivery round at a time; the window never exceeds 3.
  for (let round = 0; round < 50 && c.raft(2).log.lastIndex() < c.raft(1).log.lastIndex(); round++) {
    c.deliver((m) => m.to === 2);
    c.processReady(2);
    c.deliver((m) => m.to === 1);
    c.processReady(1);
    const inflight = c.queue.filter((m) => isApp(m) && m.to === 2 && m.entries.length > 0).length;
    t.true(inflight <= 3, `round ${round}: ${inflight} appends in flight`);
  }
  c.stabilize();
  t.deepEqual(c.get(2).log(), c.get(1).log());
  for (const m of c.sent.slice(from).filter(isApp)) {
    const bytes = m.entries.reduce((s, e) => s + e.data.length + 24, 0);
    t.true(m.entries.length <= 1 || bytes <= 100, `${describeMessage(m)} is ${bytes} bytes`);
  }
  t.true(c.sent.slice(from).some((m) => isApp(m) && m.entries.length === 2), 'batches of two were used');
  noViolations(t, c);
});

test('flow control: a follower whose in-flight appends were all lost recovers after the partition heals', (t) => {
  const c = newCluster(3, { maxInflightMsgs: 2 });
  elect(t, c, 1);
  c.isolate(3);
  for (const d of ['a', 'b', 'c', 'd']) {
    c.raft(1).propose(utf8(d));
    c.stabilize();
  }
  c.heal();
  for (let i = 0; i < 10; i++) {
    c.tick(1);
    c.stabilize();
  }
  t.deepEqual(c.get(3).appData(), ['a', 'b', 'c', 'd'], 'node 3 must catch up through heartbeats');
});

test('§5.3 fast backtracking: a long divergent log is repaired in a few round trips', (t) => {
  const c = new Cluster();
  const voters = [1, 2, 3];
  const leaderLog = [1, ...Array<number>(50).fill(3)];
  const followerLog = [1, ...Array<number>(100).fill(2)];
  c.add(1, { voters, logTerms: leaderLog, hardState: { term: 3 } });
  c.add(2, { voters, logTerms: followerLog, hardState: { term: 3 } });
  c.add(3, { voters, logTerms: leaderLog, hardState: { term: 3 } });
  const from = c.sent.length;
  elect(t, c, 1);
  c.tickAll(2);
  const rejects = c.sent.slice(from).filter((m) => isAppResp(m) && m.from === 2 && m.reject);
  t.true(rejects.length <= 2, `${rejects.length} rejections (one index per round trip would take 50)`);
  t.deepEqual(c.get(2).log(), c.get(1).log());
  noViolations(t, c);
});

// ---------------------------------------------------------------------------------------
// Membership changes (thesis §4.1, single server at a time) and learners

test('membership: add a learner, it catches up, then promote it to voter', (t) => {
  const c = newCluster(3);
  elect(t, c, 1);
  for (const d of ['a', 'b']) c.raft(1).propose(utf8(d));
  c.stabilize();
  c.add(4, { voters: [] });
  c.raft(1).proposeConfChange({ type: 'addLearner', nodeId: 4 });
  c.stabilize();
  t.deepEqual(c.raft(1).confState(), { voters: [1, 2, 3], learners: [4] });
  t.deepEqual(c.raft(4).confState(), { voters: [1, 2, 3], learners: [4] });
  t.deepEqual(c.get(4).appData(), ['a', 'b']);
  t.is(c.raft(4).log.lastIndex(), c.raft(1).log.lastIndex());
  c.raft(1).proposeConfChange({ type: 'addVoter', nodeId: 4 });
  c.stabilize();
  for (const id of [1, 2, 3, 4]) t.deepEqual(c.raft(id).confState(), { voters: [1, 2, 3, 4], learners: [] }, `node ${id}`);
  // Now 4 counts: with node 2 cut off, 1, 3 and 4 are a quorum of 4 (1 and 3 alone are not).
  c.cut(1, 2);
  c.raft(1).propose(utf8('c'));
  c.stabilize();
  t.deepEqual(c.get(4).appData(), ['a', 'b', 'c']);
  t.is(c.raft(1).log.committed, c.raft(1).log.lastIndex());
  // And with 3 cut off as well, leader + 4 is 2 of 4: nothing commits.
  c.cut(1, 3);
  c.raft(1).propose(utf8('d'));
  c.stabilize();
  t.is(c.raft(1).log.committed, c.raft(1).log.lastIndex() - 1);
  t.deepEqual(c.get(1).appData(), ['a', 'b', 'c']);
  noViolations(t, c);
});

test('membership: a learner never campaigns, is never asked to vote, and does not count for commit', (t) => {
  const c = newCluster(3, {}, { learners: [4] });
  elect(t, c, 1);
  for (let i = 0; i < 50; i++) c.tick(4);
  c.stabilize();
  t.is(c.raft(4).role, 'follower');
  t.false(c.sent.some((m) => m.from === 4 && (m.type === 'vote' || m.type === 'preVote')));
  // A new election: vote requests go to voters only.
  const from = c.sent.length;
  c.raft(2).campaign();
  c.stabilize();
  t.is(c.leader(), 2);
  t.false(c.sent.slice(from).some((m) => m.to === 4 && m.type === 'vote'));
  // Leader 2 with only the learner reachable: the learner stores the entry, it does not commit.
  c.cut(2, 1);
  c.cut(2, 3);
  const before = c.raft(2).log.committed;
  c.raft(2).propose(utf8('x'));
  c.stabilize();
  t.is(c.raft(4).log.lastIndex(), c.raft(2).log.lastIndex(), 'the learner has the entry');
  t.is(c.raft(2).log.committed, before, 'leader + learner is not a quorum of 3 voters');
  noViolations(t, c);
});

test('membership: remove a voter; the smaller quorum commits', (t) => {
  const c = newCluster(3);
  elect(t, c, 1);
  c.raft(1).proposeConfChange({ type: 'removeNode', nodeId: 3 });
  c.stabilize();
  for (const id of [1, 2]) t.deepEqual(c.raft(id).confState(), { voters: [1, 2], learners: [] });
  c.isolate(3);
  c.raft(1).propose(utf8('two of two'));
  c.stabilize();
  t.deepEqual(c.get(2).appData(), ['two of two']);
  t.false(c.sent.some((m) => m.to === 3 && m.from === 1 && isApp(m) && m.entries.some((e) => text(e.data) === 'two of two')));
  noViolations(t, c);
});

test('membership: a removed leader steps down and stops counting itself', (t) => {
  const c = newCluster(3);
  elect(t, c, 1);
  c.raft(1).proposeConfChange({ type: 'removeNode', nodeId: 1 });
  c.stabilize();
  t.not(c.raft(1).role, 'leader');
  t.deepEqual(c.raft(1).confState(), { voters: [2, 3], learners: [] });
  refusal(t, () => c.raft(1).propose(utf8('x')), 'notLeader');
  // The remaining voters elect a leader among themselves (by timeout at the latest).
  for (let i = 0; i < 40 && ![2, 3].includes(c.leader() ?? 0); i++) c.tickAll();
  t.true([2, 3].includes(c.leader() ?? 0));
  const lead = c.leader()!;
  c.raft(lead).propose(utf8('after'));
  c.stabilize();
  for (const id of [2, 3]) t.deepEqual(c.get(id).appData(), ['after']);
  t.deepEqual(c.get(1).appData(), []);
  noViolations(t, c);
});

test('membership: a removed leader hands over at once (timeoutNow), without an election timeout', (t) => {
  const c = newCluster(3);
  elect(t, c, 1);
  c.raft(1).proposeConfChange({ type: 'removeNode', nodeId: 1 });
  // No ticks: the hand-off must not wait for an election timeout.
  c.stabilize();
  t.true(c.sent.some((m) => m.type === 'timeoutNow' && m.from === 1));
  t.true([2, 3].includes(c.leader() ?? 0), 'the most up-to-date voter took over');
});

test('membership: a second conf change is refused while one is pending', (t) => {
  const c = newCluster(3);
  c.raft(1).campaign();
  c.processReady(1);
  c.deliver();
  c.processReady(2);
  c.processReady(3);
  c.deliver();
  t.is(c.raft(1).role, 'leader');
  // Right after the election the no-op is not applied yet: refused too.
  refusal(t, () => c.raft(1).proposeConfChange({ type: 'addLearner', nodeId: 4 }), 'confChangePending');
  c.stabilize();
  c.add(4, { voters: [] });
  c.raft(1).proposeConfChange({ type: 'addLearner', nodeId: 4 });
  refusal(t, () => c.raft(1).proposeConfChange({ type: 'addLearner', nodeId: 5 }), 'confChangePending');
  c.stabilize();
  t.notThrows(() => c.raft(1).proposeConfChange({ type: 'addVoter', nodeId: 4 }));
  c.stabilize();
  t.deepEqual(c.raft(1).confState(), { voters: [1, 2, 3, 4], learners: [] });
  noViolations(t, c);
});

// ---------------------------------------------------------------------------------------
// Log compaction (§7)

test('§7 snapshot: a follower behind the compacted log gets a snapshot and catches up', (t) => {
  const c = newCluster(3);
  elect(t, c, 1);
  c.isolate(3);
  for (const d of ['a', 'b', 'c', 'd', 'e']) c.raft(1).propose(utf8(d));
  c.stabilize();
  const applied = c.get(1).appliedIndex;
  c.compact(1, applied - 1);
  t.is(c.get(1).storage.firstIndex(), applied);
  c.heal();
  const from = c.sent.length;
  for (let i = 0; i < 3; i++) {
    c.tick(1);
    c.stabilize();
  }
  const snaps = c.sent.slice(from).filter((m) => m.type === 'snap' && m.to === 3);
  t.is(snaps.length, 1, 'exactly one snapshot was sent');
  t.deepEqual(c.get(3).appData(), ['a', 'b', 'c', 'd', 'e']);
  t.is(c.raft(3).log.lastIndex(), c.raft(1).log.lastIndex());
  t.is(c.get(3).storage.firstIndex(), applied, 'node 3 restored from the snapshot, not from entries');
  // Replication continues normally from there.
  c.raft(1).propose(utf8('f'));
  c.stabilize();
  t.deepEqual(c.get(3).appData(), ['a', 'b', 'c', 'd', 'e', 'f']);
  noViolations(t, c);
});
