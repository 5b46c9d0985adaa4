/**
 * The control-plane chaos scenarios. Each injects one kind of fault over and over (a
 * stable period, the fault, its heal) until the run's fault phase ends; `combined` draws
 * from all of them. Every choice comes from the run's seeded Rng.
 */
import type { BlockStyle } from './network.ts';
import { orchestrationOf } from './orchestration.ts';
import type { Scenario, ScenarioContext } from './types.ts';

type Action = (ctx: ScenarioContext) => Promise<void>;

function others(ctx: ScenarioContext, not: number[]): number[] {
  return ctx.faults.members().filter((id) => !not.includes(id));
}

function style(ctx: ScenarioContext): BlockStyle {
  return ctx.rng.chance(0.7) ? 'blackhole' : 'reset';
}

/** Repeat `action` (after the cluster settled and a short stable period) until the end. */
async function repeat(ctx: ScenarioContext, action: Action, stableMs: [number, number] = [500, 1500]): Promise<void> {
  while (ctx.active()) {
    await ctx.settle(15_000);
    await ctx.sleep(ctx.rng.range(stableMs[0], stableMs[1]));
    if (!ctx.active()) break;
    await action(ctx);
  }
}

// ---------------------------------------------------------------------------------------
// Single faults

const killLeader: Action = async (ctx) => {
  const l = await ctx.leader();
  if (!l) return;
  await ctx.faults.hold('kill -9 leader', l, ctx.rng.range(800, 2500), () => ctx.faults.crash(l), () => ctx.faults.restart(l));
};

const killFollower: Action = async (ctx) => {
  const l = await ctx.leader();
  const f = ctx.rng.pick(others(ctx, [l]));
  await ctx.faults.hold('kill -9 follower', f, ctx.rng.range(800, 2500), () => ctx.faults.crash(f), () => ctx.faults.restart(f));
};

const killMajority: Action = async (ctx) => {
  const members = ctx.faults.members();
  const victims = ctx.rng.shuffle(members).slice(0, Math.floor(members.length / 2) + 1);
  await ctx.faults.hold(
    'kill -9 a majority',
    victims,
    ctx.rng.range(1000, 3000),
    () => Promise.all(victims.map((id) => ctx.faults.crash(id))),
    () => Promise.all(victims.map((id) => ctx.faults.restart(id))),
  );
};

let rollingNext = 0;
const restartOne: Action = async (ctx) => {
  const members = ctx.faults.members();
  const id = members[rollingNext++ % members.length]!;
  const sig = ctx.rng.chance(0.5) ? 'SIGTERM' : 'SIGKILL';
  await ctx.faults.hold(`restart (${sig})`, id, ctx.rng.range(200, 1000), () => ctx.faults.crash(id, sig), () => ctx.faults.restart(id));
};

const isolateLeader: Action = async (ctx) => {
  const l = await ctx.leader();
  if (!l) return;
  const s = style(ctx);
  await ctx.faults.hold('isolate leader', l, ctx.rng.range(1500, 4000), () => ctx.faults.partition([[l], others(ctx, [l])], s), () => ctx.faults.healNetwork(), s);
};

const minorityPartition: Action = async (ctx) => {
  const l = await ctx.leader();
  const members = ctx.faults.members();
  const minority = ctx.rng.shuffle(others(ctx, [l])).slice(0, Math.floor((members.length - 1) / 2));
  const s = style(ctx);
  await ctx.faults.hold('partition a minority', minority, ctx.rng.range(1500, 4000), () => ctx.faults.partition([minority, others(ctx, minority)], s), () => ctx.faults.healNetwork(), s);
};

let majorityRound = 0;
const majorityPartition: Action = async (ctx) => {
  const l = await ctx.leader();
  if (!l) return;
  const members = ctx.faults.members();
  const s = style(ctx);
  if (majorityRound++ % 2 === 0) {
    // The leader ends up on the minority side: the majority must elect a new one.
    const side = [l, ...ctx.rng.shuffle(others(ctx, [l])).slice(0, Math.floor((members.length - 1) / 2) - 1)];
    await ctx.faults.hold('leader in the minority', side, ctx.rng.range(1500, 4000), () => ctx.faults.partition([side, others(ctx, side)], s), () => ctx.faults.healNetwork(), s);
  } else {
    // No side has a majority: no writes until it heals.
    const shuffled = ctx.rng.shuffle(members);
    const groups: number[][] = [];
    for (let i = 0; i < shuffled.length; i += 2) groups.push(shuffled.slice(i, i + (members.length <= 3 ? 1 : 2)));
    const flat = groups.flat();
    for (const id of shuffled) if (!flat.includes(id)) groups.push([id]);
    await ctx.faults.hold('no majority anywhere', groups.map((g) => g.join('+')).join('|'), ctx.rng.range(1500, 3500), () => ctx.faults.partition(groups, s), () => ctx.faults.healNetwork(), s);
  }
};

const bridge: Action = async (ctx) => {
  const l = await ctx.leader();
  if (!l) return;
  const rest = ctx.rng.shuffle(others(ctx, [l]));
  // The leader on one side, one node that sees both sides, the rest on the other side.
  const mid = rest[0]!;
  const half = Math.floor((rest.length - 1) / 2);
  const sideA = [l, ...rest.slice(1, 1 + half)];
  const sideB = rest.slice(1 + half);
  const s = style(ctx);
  await ctx.faults.hold('bridge', `${sideA.join('+')}|${mid}|${sideB.join('+')}`, ctx.rng.range(1500, 4000), () => ctx.faults.partition([sideA, sideB], s), () => ctx.faults.healNetwork(), s);
};

let oneWayRound = 0;
const oneWay: Action = async (ctx) => {
  const l = await ctx.leader();
  if (!l) return;
  const fs = others(ctx, [l]);
  const modes = ctx.net.supports.loss ? ['leader-out', 'leader-in', 'lossy', 'slow'] : ['leader-out', 'leader-in'];
  const mode = modes[oneWayRound++ % modes.length]!;
  const hold = ctx.rng.range(1500, 3500);
  const heal = () => ctx.faults.healNetwork();
  switch (mode) {
    case 'leader-out':
      // The leader hears its followers but they no longer hear it.
      await ctx.faults.hold('one-way: leader → followers lost', l, hold, () => ctx.faults.oneWay([l], fs, 'blackhole'), heal);
      break;
    case 'leader-in':
      // The followers hear the leader but it no longer hears them.
      await ctx.faults.hold('one-way: followers → leader lost', l, hold, () => ctx.faults.oneWay(fs, [l], 'blackhole'), heal);
      break;
    case 'lossy': {
      const loss = ctx.rng.range(2, 6) / 100;
      const all = ctx.faults.members();
      await ctx.faults.hold('lossy links (all)', all, hold, () => {
        for (const a of all) for (const b of all) if (a !== b) ctx.net.lossy(a, b, loss);
      }, heal, `loss ${loss} per chunk`);
      break;
    }
    case 'slow': {
      const ms = ctx.rng.range(40, 150);
      await ctx.faults.hold('slow links from the leader', l, hold, () => {
        for (const f of fs) ctx.net.slow(l, f, ms, ms / 2);
      }, heal, `${ms} ms ± ${ms / 2}`);
      break;
    }
  }
};

const pauseLeader: Action = async (ctx) => {
  const l = await ctx.leader();
  if (!l) return;
  const id = ctx.rng.chance(0.8) ? l : ctx.rng.pick(others(ctx, [l]));
  await ctx.faults.hold(id === l ? 'SIGSTOP leader' : 'SIGSTOP follower', id, ctx.rng.range(1000, 4000), () => ctx.cluster.pause(id), () => ctx.cluster.resume(id));
};

const slowDisk: Action = async (ctx) => {
  const l = await ctx.leader();
  if (!l) return;
  const pick = ctx.rng.int(3);
  const targets = pick === 0 ? [l] : pick === 1 ? [ctx.rng.pick(others(ctx, [l]))] : ctx.faults.members();
  const ms = ctx.rng.range(20, 300);
  const what = pick === 0 ? 'leader' : pick === 1 ? 'follower' : 'all';
  await ctx.faults.hold(`slow disk (${what})`, targets, ctx.rng.range(1500, 4000), () => ctx.faults.fsyncDelay(targets, ms), () => ctx.faults.fsyncDelay(targets, 0), `fsync +${ms} ms`);
};

let clockRound = 0;
const clockFault: Action = async (ctx) => {
  const l = await ctx.leader();
  if (!l) return;
  const fs = others(ctx, [l]);
  const mode = clockRound++ % 5;
  if (mode === 0) {
    const f = ctx.rng.pick(fs);
    const ms = ctx.rng.range(500, 5000);
    const r = ctx.faults.begin('clock jumps forward (follower)', f, `+${ms} ms`);
    await ctx.faults.clockJump(f, ms);
    ctx.faults.end(r);
  } else if (mode === 1) {
    const ms = ctx.rng.range(500, 3000);
    await ctx.faults.hold('clock stalls (leader)', l, ms, () => ctx.faults.clockJump(l, -ms), () => undefined, `ticks stop for ${ms} ms`);
  } else if (mode === 2) {
    const f = ctx.rng.pick(fs);
    const rate = ctx.rng.range(2, 4);
    await ctx.faults.hold('clock runs fast (follower)', f, ctx.rng.range(1500, 3000), () => ctx.faults.clockRate(f, rate), () => ctx.faults.clockRate(f, 1), `${rate}x`);
  } else if (mode === 4) {
    // Worse for lease reads: the cut-off leader's clock also stands still, so by its own
    // count its lease never runs out while the others elect and commit.
    const ms = ctx.rng.range(300, 1000);
    const hold = ctx.rng.range(1000, 2500);
    await ctx.faults.hold(
      'isolate leader + its clock stalls + followers jump',
      l,
      hold,
      async () => {
        ctx.faults.partition([[l], fs], 'blackhole');
        await Promise.all([ctx.faults.clockJump(l, -hold), ...fs.map((f) => ctx.faults.clockJump(f, ms))]);
      },
      () => ctx.faults.healNetwork(),
      `+${ms} ms; leader ticks stop for ${hold} ms`,
    );
  } else {
    // The case that breaks lease reads: the leader is cut off and the followers' clocks
    // jump past the lease they promised it, so they elect a new leader at once while the
    // old one still trusts its lease.
    const ms = ctx.rng.range(300, 1000);
    await ctx.faults.hold(
      'isolate leader + followers jump',
      l,
      ctx.rng.range(1000, 2500),
      async () => {
        ctx.faults.partition([[l], fs], 'blackhole');
        await Promise.all(fs.map((f) => ctx.faults.clockJump(f, ms)));
      },
      () => ctx.faults.healNetwork(),
      `+${ms} ms`,
    );
  }
};

const transferLeader: Action = async (ctx) => {
  const l = await ctx.leader();
  if (!l) return;
  const to = ctx.rng.pick(others(ctx, [l]));
  const r = ctx.faults.begin('transfer leadership', `${l}→${to}`);
  await ctx.faults.transferLeader(to);
  ctx.faults.end(r);
};

let churnRound = 0;
const churn: Action = async (ctx) => {
  const l = await ctx.leader();
  if (!l) return;
  const members = ctx.faults.members();
  if (members.length < 3) return;
  // Mostly a follower; now and then the leader itself (it hands over, then steps down).
  const victim = ctx.rng.chance(0.25) ? l : ctx.rng.pick(others(ctx, [l]));
  const restart = churnRound++ % 2 === 1;
  const r = ctx.faults.begin('remove member, add back', victim, restart ? 'restarted in between' : 'kept running');
  try {
    if (!(await ctx.faults.removeMember(victim))) return;
    if (restart) {
      await ctx.faults.crash(victim, 'SIGTERM');
      await ctx.sleep(ctx.rng.range(200, 800));
      await ctx.faults.restart(victim);
    }
    await ctx.sleep(ctx.rng.range(500, 1500));
    await ctx.faults.addMember(victim);
  } finally {
    ctx.faults.end(r);
  }
  await ctx.settle(15_000);
  await transferLeader(ctx);
};

// ---------------------------------------------------------------------------------------
// Node agents (scenarios with `agents`, or --orchestration)

/** A node dies with its pods: kill -9 its agent and every pod process; back after 8-12 s. */
const nodeLoss: Action = async (ctx) => {
  const agents = ctx.agents;
  if (!agents) return;
  const up = agents.up();
  // One node at a time, the others all up: they take its pods (and the zone stays healthy,
  // so the node lifecycle controller does evict).
  if (up.length < agents.ids().length) return;
  const n = ctx.rng.pick(up);
  const hold = ctx.rng.range(8000, 12_000);
  const r = ctx.faults.begin('node lost (agent + pods kill -9)', agents.name(n));
  try {
    const killed = await agents.killNode(n);
    r.note = `${killed} pod containers killed; back after ${hold} ms`;
    await ctx.sleep(hold);
  } finally {
    await agents.start(n).catch((e: Error) => ctx.log(`restart ${agents.name(n)}: ${e.message}`));
    ctx.faults.end(r);
  }
};

/** kill -9 one agent (sometimes every agent at once) and start it again: its pods are adopted. */
const agentRestart: Action = async (ctx) => {
  const agents = ctx.agents;
  if (!agents) return;
  const all = ctx.rng.chance(0.25);
  const victims = all ? agents.up() : [ctx.rng.pick(agents.up())];
  if (victims.length === 0) return;
  // Down for less than the grace period (4 s with the start-up): nothing is evicted.
  await ctx.faults.hold(
    all ? 'kill -9 every agent, restart' : 'kill -9 agent, restart',
    victims.map((n) => agents.name(n)).join(','),
    ctx.rng.range(200, 1200),
    () => Promise.all(victims.map((n) => agents.kill(n))),
    () => Promise.all(victims.map((n) => agents.start(n).catch((e: Error) => ctx.log(`restart ${agents.name(n)}: ${e.message}`)))),
  );
};

// ---------------------------------------------------------------------------------------

function single(name: string, description: string, action: Action, extra: Partial<Scenario> = {}): Scenario {
  return { name, description, run: (ctx) => repeat(ctx, action), ...extra };
}

const combinedPool: { weight: number; action: Action; proxyOnly?: boolean }[] = [
  { weight: 3, action: killLeader },
  { weight: 2, action: killFollower },
  { weight: 1, action: killMajority },
  { weight: 1, action: restartOne },
  { weight: 2, action: isolateLeader },
  { weight: 2, action: minorityPartition },
  { weight: 2, action: majorityPartition },
  { weight: 1, action: bridge },
  { weight: 2, action: oneWay },
  { weight: 2, action: pauseLeader },
  { weight: 1, action: slowDisk },
  { weight: 1, action: clockFault },
  { weight: 1, action: transferLeader },
  { weight: 1, action: churn },
];

const combined: Scenario = {
  name: 'combined',
  description: 'random faults from every other scenario for the whole run, sometimes back to back without settling',
  async run(ctx) {
    // With --orchestration the agents fail too.
    const pool = ctx.agents ? [...combinedPool, { weight: 2, action: nodeLoss }, { weight: 3, action: agentRestart }] : combinedPool;
    const total = pool.reduce((n, p) => n + p.weight, 0);
    while (ctx.active()) {
      if (ctx.rng.chance(0.7)) await ctx.settle(15_000);
      await ctx.sleep(ctx.rng.range(200, 1200));
      if (!ctx.active()) break;
      let x = ctx.rng.int(total);
      const p = pool.find((c) => (x -= c.weight) < 0)!;
      await p.action(ctx);
    }
  },
};

export const SCENARIOS: Scenario[] = [
  single('leader-kill', 'kill -9 the leader, restart it after 0.8-2.5 s', killLeader),
  single('follower-kill', 'kill -9 a follower, restart it after 0.8-2.5 s', killFollower),
  single('rolling-restart', 'stop each replica in turn (SIGTERM or kill -9) and start it again', restartOne),
  single('leader-isolate', 'cut the leader off from every other replica (blackhole or reset) for 1.5-4 s', isolateLeader),
  single('minority-partition', 'cut a minority of followers off from the rest', minorityPartition),
  single('majority-partition', 'alternately: the leader on the minority side of a split; a split with no majority anywhere', majorityPartition),
  single('bridge', 'two sides that cannot talk, bridged by one replica that sees both (the leader on one side)', bridge),
  single('one-way-loss', "asymmetric faults: the leader's messages lost one way, then its followers'; lossy and slow links (proxy)", oneWay),
  single('pause-leader', 'SIGSTOP the leader (sometimes a follower) for 1-4 s, then SIGCONT', pauseLeader),
  single('slow-disk', 'fsync takes 20-300 ms longer on the leader, a follower or all of them', slowDisk),
  single('membership-churn', 'remove a member (sometimes the leader) and add it back, then transfer leadership', churn),
  single('clock-jump', "clock faults against the lease clock: a follower's jumps forward, the leader's stalls, one runs fast, the leader cut off while the followers' clocks jump (and its own stalls)", clockFault),
  single('majority-kill', 'kill -9 a majority for 1-3 s, then restart them', killMajority),
  single('leader-transfer', 'transfer leadership to a random follower, repeatedly', transferLeader),
  {
    name: 'node-loss',
    description: 'node agents with pods (process runtime): kill -9 a node\'s agent and its pods; evicted after the toleration, replaced elsewhere; the node returns after 8-12 s',
    agents: true,
    run: (ctx) => repeat(ctx, nodeLoss, [1000, 2500]),
    workloads: (ctx) => [orchestrationOf(ctx).workload()],
    checks: (ctx) => orchestrationOf(ctx).checks(),
  },
  {
    name: 'agent-restart',
    description: 'kill -9 a node agent (sometimes all of them) and restart it within 0.2-1.2 s: its running pods must be adopted, never started twice',
    agents: true,
    run: (ctx) => repeat(ctx, agentRestart, [1000, 2500]),
    workloads: (ctx) => [orchestrationOf(ctx, { strictAdoption: true }).workload()],
    checks: (ctx) => orchestrationOf(ctx, { strictAdoption: true }).checks(),
  },
  combined,
];

export function scenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

/** Round-robin state of the scenarios, reset per run so a seed repeats its choices. */
export function resetScenarioState(): void {
  rollingNext = 0;
  majorityRound = 0;
  oneWayRound = 0;
  clockRound = 0;
  churnRound = 0;
}
