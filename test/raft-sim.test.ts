/**
 * The seeded, deterministic simulation of whole clusters of the real Raft core
 * (test/sim/): crashes that lose unwritten state, partitions (symmetric, one-way,
 * leader isolation), message loss/duplication/reordering, membership churn, leader
 * transfers, snapshots with compaction and ReadIndex reads (half of the runs with
 * checkQuorum serve them from leader leases), with Raft's safety invariants and read
 * linearizability checked after every step and liveness checked after healing.
 *
 * A failure names the seed and the command that replays it, e.g.
 *   npm run sim -- --seed 1234 --replicas 5 --steps 3000 --verbose
 *
 * Below the randomized runs: directed regression tests, one per bug the simulation
 * found in the core (each fails without its fix).
 */
import test, { type ExecutionContext } from 'ava';
import { MemoryStorage } from '../src/raft/memory-storage.ts';
import { DEFAULT_CONFIG, Raft } from '../src/raft/raft.ts';
import type { ConfState, Message } from '../src/raft/types.ts';
import { DEFAULT_OPTIONS, runSim, type SimOptions } from './sim/cluster.ts';
import { Mini, confEntry, utf8 } from './sim/mini.ts';

type Profile = Omit<SimOptions, 'seed'>;

const BASIC: Profile = { replicas: 3, steps: 3000, churn: false, snapshots: false, crashes: true, partitions: true };

function runSeeds(t: ExecutionContext, profile: (seed: number) => Profile, seeds: number[]): void {
  const failures: string[] = [];
  let steps = 0;
  let acked = 0;
  for (const seed of seeds) {
    const r = runSim({ ...profile(seed), seed });
    steps += r.stats.steps + r.stats.healSteps;
    acked += r.stats.acked;
    if (!r.ok) failures.push(`seed ${seed}: ${r.error}\n    replay: ${r.command} --verbose`);
  }
  t.log(`${seeds.length} seeds, ${steps} steps, ${acked} acknowledged proposals`);
  if (failures.length > 0) t.fail(`${failures.length} of ${seeds.length} seeds failed:\n${failures.join('\n')}`);
  else t.pass();
}

const seedRange = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

// ---------------------------------------------------------------------------------------
// Randomized runs (1,400 seeds in all). Unless a profile says otherwise, half of the runs
// with checkQuorum serve reads from leader leases (decided by the seed).

test('sim: 3 replicas, crashes + partitions + lossy network', (t) => {
  runSeeds(t, () => BASIC, seedRange(1, 250));
});

test('sim: 5 replicas, crashes + partitions + lossy network', (t) => {
  runSeeds(t, () => ({ ...BASIC, replicas: 5 }), seedRange(1001, 200));
});

test('sim: membership churn (learners, promotions, removing voters and leaders)', (t) => {
  runSeeds(t, (s) => ({ ...BASIC, replicas: s % 2 === 0 ? 3 : 5, churn: true }), seedRange(2001, 250));
});

test('sim: snapshots + compaction (lagging replicas get a SnapMsg)', (t) => {
  runSeeds(t, (s) => ({ ...BASIC, replicas: s % 2 === 0 ? 3 : 5, snapshots: true }), seedRange(3001, 250));
});

test('sim: everything at once, longer runs', (t) => {
  runSeeds(t, (s) => ({ ...BASIC, replicas: s % 2 === 0 ? 3 : 5, churn: true, snapshots: true, steps: 5000 }), seedRange(4001, 150));
});

test('sim: lease reads in every run with checkQuorum (stale reads are violations)', (t) => {
  const lease = (s: number): Profile => ({ ...BASIC, replicas: s % 2 === 0 ? 3 : 5, churn: s % 3 !== 0, snapshots: s % 4 !== 0, lease: true });
  runSeeds(t, lease, seedRange(5001, 300));
});

test('sim: regression seeds', (t) => {
  // Seeds that failed before the core fixes listed in the tests below (and in the report).
  // Each failed (liveness or membership divergence) with the named fix reverted. They
  // run without leases, as they did when they were found.
  const all: Profile = { ...BASIC, churn: true, snapshots: true, lease: false };
  const noLease: Profile = { ...BASIC, lease: false };
  const cases: [number, Profile][] = [
    // Full inflight window never drained after its AppMsgs were lost (raft.ts, handleHeartbeatResp).
    [9, noLease],
    [45, noLease],
    [46, noLease],
    // Membership change lost by a snapshot taken before its Ready.conf was written (raft.ts, ready()).
    [191, all],
    [1076, all],
    // Restart with a durable commit index below the snapshot (log.ts, RaftLog constructor).
    [4, { ...noLease, snapshots: true }],
    [14, { ...noLease, snapshots: true }],
    [20, { ...noLease, snapshots: true }],
    // Lease reads: stale reads, each found by an earlier version of the lease code. 137:
    // a partitioned old leader served a read at 141 after 142 was committed elsewhere.
    // 489 and 604: a lease read after a leadership transfer whose timeoutNow went out
    // later than an election timeout after the transfer started (raft.ts, transferTerm;
    // 604 still fails with that fix reverted, 137 and 489 were found before the lease
    // runs read more often and bound clock skew, which changed their runs).
    [137, { ...DEFAULT_OPTIONS, crashes: false, lease: true }],
    [489, { ...DEFAULT_OPTIONS, lease: true }],
    [604, { ...DEFAULT_OPTIONS, lease: true }],
  ];
  runSeedsCases(t, cases);
});

function runSeedsCases(t: ExecutionContext, cases: [number, Profile][]): void {
  const failures: string[] = [];
  for (const [seed, p] of cases) {
    const r = runSim({ ...p, seed });
    if (!r.ok) failures.push(`seed ${seed}: ${r.error}\n    replay: ${r.command} --verbose`);
  }
  if (failures.length > 0) t.fail(failures.join('\n'));
  else t.pass();
}

test('sim: a seed replays exactly (same trace hash), another seed differs', (t) => {
  const p: Profile = { ...BASIC, replicas: 5, churn: true, snapshots: true, steps: 3000 };
  const a = runSim({ ...p, seed: 777 });
  const b = runSim({ ...p, seed: 777 });
  const c = runSim({ ...p, seed: 778 });
  t.true(a.ok, a.error);
  t.is(a.traceHash, b.traceHash);
  t.deepEqual(a.stats, b.stats);
  t.not(a.traceHash, c.traceHash);
});

// ---------------------------------------------------------------------------------------
// Directed regression tests for the core bugs the simulation found

test('regression: a full inflight window with its AppMsgs lost recovers on the next heartbeat', (t) => {
  const m = new Mini([1, 2, 3], { maxInflightMsgs: 1 });
  m.raft(1).campaign();
  m.stabilize();
  t.is(m.raft(1).role, 'leader');
  // The AppMsg carrying `a` is lost on the way to both followers: each window is full.
  m.raft(1).propose(utf8('a'));
  m.stabilize((msg: Message) => msg.type === 'app' && msg.entries.length > 0);
  const b = m.raft(1).propose(utf8('b'));
  m.stabilize();
  t.true(m.raft(1).log.committed < b, 'nothing can be sent while the windows are full');
  // A heartbeat round must get replication going again.
  m.tick(1, DEFAULT_CONFIG.heartbeatTick);
  m.stabilize();
  t.is(m.raft(1).log.committed, b);
  // The next heartbeat carries the commit index to the followers.
  m.tick(1, DEFAULT_CONFIG.heartbeatTick);
  m.stabilize();
  for (const id of [2, 3]) t.is(m.raft(id).log.applied, b);
});

test('regression: a snapshot taken right after applying a conf change survives a crash before the next write', (t) => {
  const m = new Mini([1]);
  m.raft(1).campaign();
  m.stabilize();
  const idx = m.raft(1).proposeConfChange({ type: 'addLearner', nodeId: 2 });
  // Handle Readies one at a time until the conf entry is applied (no further Ready).
  while (m.raft(1).log.applied < idx) t.truthy(m.handle(1));
  const st = m.stores.get(1)!;
  const applied = m.raft(1).log.applied;
  // The application snapshots at its applied index, with the membership it applied...
  st.createSnapshot(applied, m.raft(1).confState(), new Uint8Array());
  st.compact(applied);
  // ...and crashes before writing anything else. It restarts from that snapshot.
  const r = m.restart(1, applied);
  t.deepEqual(r.confState(), { voters: [1], learners: [2] });
});

test('regression: conf entries of a Ready do not reapply over a snapshot restored while it was out', (t) => {
  const conf: ConfState = { voters: [1, 2, 3], learners: [] };
  const st = new MemoryStorage();
  st.applySnapshot({ meta: { index: 1, term: 1, conf }, data: new Uint8Array() });
  st.setHardState({ term: 1, vote: 0, commit: 1 });
  st.setConfState(conf);
  const r = new Raft({ ...DEFAULT_CONFIG, id: 2, applied: 1, random: () => 0 }, st);
  // Entry 2 adds voter 4; it is committed and handed out for applying...
  r.step({ type: 'app', from: 1, to: 2, term: 2, index: 1, logTerm: 1, entries: [confEntry(2, 2, { type: 'addVoter', nodeId: 4 })], commit: 2 });
  const rd1 = r.ready();
  t.is(rd1.committedEntries.length, 1);
  // ...when a snapshot at 5 arrives, after which 4 was removed again.
  r.step({ type: 'snap', from: 1, to: 2, term: 2, snapshot: { meta: { index: 5, term: 2, conf }, data: new Uint8Array() } });
  st.append(rd1.entries);
  if (rd1.hardState) st.setHardState(rd1.hardState);
  if (rd1.conf) st.setConfState(rd1.conf);
  r.advance();
  const rd2 = r.ready();
  t.is(rd2.snapshot?.meta.index, 5);
  st.applySnapshot(rd2.snapshot!);
  if (rd2.hardState) st.setHardState(rd2.hardState);
  if (rd2.conf) st.setConfState(rd2.conf);
  r.advance();
  t.deepEqual(r.confState(), conf);
  t.deepEqual(st.initialState().conf, conf);
});

test('regression: a durable commit index below the snapshot (lazy commit writes) does not unapply the snapshot', (t) => {
  const conf: ConfState = { voters: [1, 2, 3], learners: [] };
  const st = new MemoryStorage();
  st.applySnapshot({ meta: { index: 5, term: 2, conf }, data: new Uint8Array() });
  // The driver skipped writing Readies that only moved the commit index.
  st.setHardState({ term: 2, vote: 0, commit: 3 });
  st.setConfState(conf);
  const r = new Raft({ ...DEFAULT_CONFIG, id: 2, applied: 5, random: () => 0 }, st);
  t.is(r.log.applied, 5);
  t.true(r.log.committed >= 5);
  const ents = [6, 7].map((index) => ({ term: 2, index, type: 'normal' as const, data: utf8(`x${index}`) }));
  r.step({ type: 'app', from: 1, to: 2, term: 2, index: 5, logTerm: 2, entries: ents, commit: 7 });
  const rd = r.ready();
  t.deepEqual(rd.committedEntries.map((e) => e.index), [6, 7]);
});
