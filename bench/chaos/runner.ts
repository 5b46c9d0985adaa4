/**
 * One chaos run: start a cluster (network namespaces or proxies), run the register
 * workload and a watch, let a scenario inject faults for the given duration, heal
 * everything, wait for the control plane to converge, then check the history.
 * Everything the run starts (processes, proxies, namespaces) is stopped on every exit path.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthClient } from '../../src/client/client.ts';
import { ChaosAgents, type AgentRuntime } from './agents.ts';
import { linearizability, lostWrites, recovery, watchCheck } from './checks.ts';
import { ChaosCluster, sleep } from './cluster.ts';
import { Faults, type FaultRecord } from './faults.ts';
import { netnsUsable } from './netns.ts';
import { NetnsNetwork, ProxyNetwork, type Network } from './network.ts';
import { Rng } from './rng.ts';
import { resetScenarioState, scenario as findScenario, SCENARIOS } from './scenarios.ts';
import type { CheckResult, RunContext, ScenarioContext, Workload } from './types.ts';
import { ORCH_CHECK_NAMES as ORCH_CHECKS, orchestrationOf } from './orchestration.ts';
import { NAMESPACE, RegisterWorkload, rvOf, valueOf } from './workload.ts';
import { WatchRecorder } from './watch.ts';

export type Isolation = 'proxy' | 'netns' | 'auto';

export interface ChaosOptions {
  scenario: string;
  seed: number;
  durationMs: number;
  replicas: number;
  isolation: Isolation;
  keys?: number;
  clients?: number;
  probes?: number;
  /** Serve reads from leader leases (test-only hook) to check clock faults against them. */
  leaseReads?: boolean;
  tickMs?: number;
  /** Keep the scratch directory even when the run passed. */
  keepDir?: boolean;
  /** Node agents and the orchestration workload in any scenario (those with `agents` always have them). */
  orchestration?: boolean;
  /** How many node agents (default 4). */
  agents?: number;
  /** The agents' runtime (default process). */
  runtime?: AgentRuntime;
  log?: (s: string) => void;
}

export interface ChaosSummary {
  bench: 'chaos';
  scenario: string;
  seed: number;
  isolation: 'proxy' | 'netns';
  replicas: number;
  durationS: number;
  faults: number;
  ops: number;
  acknowledged: number;
  indeterminate: number;
  lost: number;
  linearizable: boolean | 'unknown';
  watchOk: boolean;
  recoverP50Ms: number;
  recoverP99Ms: number;
  recoverInjectP99Ms: number;
  recoverHealP99Ms: number;
  converged: boolean;
  ok: boolean;
  [k: string]: unknown;
}

export interface ChaosResult {
  summary: ChaosSummary;
  checks: CheckResult[];
  faults: FaultRecord[];
  /** The human report (table per fault, checks). */
  report: string;
  /** The command that repeats this run's seed. */
  repeat: string;
  dir: string;
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const r1 = (x: number) => Math.round(x * 10) / 10;

let runCounter = 0;

/** Runs still holding resources, so that an interrupted process can clean up. */
const active = new Set<() => Promise<void>>();

/** Stop everything every run in this process started (for SIGINT/SIGTERM). */
export async function abortAll(): Promise<void> {
  await Promise.all([...active].map((f) => f().catch(() => undefined)));
}

export function repeatCommand(o: { scenario: string; seed: number; durationMs: number; replicas: number; isolation: string; leaseReads?: boolean; orchestration?: boolean; agents?: number; runtime?: string }): string {
  const orch = o.orchestration ? ' --orchestration' : '';
  const agents = o.agents !== undefined && o.agents !== DEFAULT_AGENTS ? ` --agents ${o.agents}` : '';
  const runtime = o.runtime && o.runtime !== 'process' ? ` --runtime ${o.runtime}` : '';
  return `npm run chaos -- ${o.scenario} --seed ${o.seed} --duration ${Math.round(o.durationMs / 1000)}s --replicas ${o.replicas} --isolation ${o.isolation}${o.leaseReads ? ' --lease-reads' : ''}${orch}${agents}${runtime}`;
}

export const DEFAULT_AGENTS = 4;

/**
 * Replica flags of runs with agents: heartbeats every 500 ms, a node silent for 4 s is
 * Unknown, and its pods are evicted 2 s after the taint (instead of 40 s and 300 s).
 */
export const NODE_FLAGS = ['--node-heartbeat-interval', '500ms', '--node-monitor-grace-period', '4s', '--default-toleration-seconds', '2'];

export function resolveIsolation(want: Isolation, needsProxy: boolean): 'proxy' | 'netns' {
  if (want === 'proxy') return 'proxy';
  if (want === 'netns') {
    if (!netnsUsable()) throw new Error('--isolation netns: network namespaces are not usable here (needs root, ip, nft, nsenter)');
    return 'netns';
  }
  return !needsProxy && netnsUsable() ? 'netns' : 'proxy';
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const sc = findScenario(o.scenario);
  if (!sc) throw new Error(`unknown scenario "${o.scenario}"; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  if (o.replicas < (sc.minReplicas ?? 3)) throw new Error(`${sc.name} needs at least ${sc.minReplicas ?? 3} replicas`);
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const isolation = resolveIsolation(o.isolation, Boolean(sc.needsProxy));
  const repeat = repeatCommand({ ...o, isolation });
  const withAgents = Boolean(sc.agents || o.orchestration);
  const agentCount = o.agents ?? DEFAULT_AGENTS;
  const runtime = o.runtime ?? 'process';
  if (withAgents) {
    if (!Number.isInteger(agentCount) || agentCount < 3 || agentCount > 20) throw new Error(`--agents: between 3 and 20 (node-loss needs the others to take the pods), not ${agentCount}`);
    if (runtime !== 'process') throw new Error(`--runtime ${runtime}: only the process runtime is supported by the chaos runner so far`);
  }
  resetScenarioState();
  const rng = new Rng(o.seed);
  const ids = Array.from({ length: o.replicas }, (_, i) => i + 1);
  const dir = mkdtempSync(join(tmpdir(), `berth-chaos-${sc.name}-`));
  // Names of this run's namespaces and links: unique per process and run.
  const runId = `${(process.pid % 46656).toString(36).padStart(3, '0')}${(runCounter++ % 1296).toString(36).padStart(2, '0')}`;
  const net: Network = isolation === 'proxy' ? new ProxyNetwork(rng.fork(), log) : new NetnsNetwork(runId);
  const cluster = new ChaosCluster({ ids, dir, net, log, tickMs: o.tickMs ?? 20, ...(o.leaseReads ? { leaseReads: true } : {}), ...(withAgents ? { nodeFlags: NODE_FLAGS } : {}) });
  let agents: ChaosAgents | undefined;
  let workload: RegisterWorkload | undefined;
  let watch: WatchRecorder | undefined;
  let faults: Faults | undefined;
  const extra: Workload[] = [];
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    watch?.stop();
    await workload?.stop().catch(() => undefined);
    await Promise.all(extra.map((w) => w.stop().catch(() => undefined)));
    for (const w of extra) await Promise.resolve(w.close?.()).catch(() => undefined);
    await agents?.stopAll().catch(() => undefined);
    workload?.close();
    faults?.close();
    await cluster.stopAll().catch(() => undefined);
    await net.teardown().catch(() => undefined);
  };
  active.add(cleanup);
  let passed = false;
  try {
    log(`chaos ${sc.name}: seed ${o.seed}, ${o.replicas} replicas, ${isolation} isolation, ${Math.round(o.durationMs / 1000)} s of faults; data in ${dir}`);
    await net.setup(ids);
    await cluster.startAll();
    if (!(await cluster.waitForLeader(30_000))) throw new Error('no leader after 30 s');
    const endpoints = cluster.apiAddresses();
    if (withAgents) {
      agents = new ChaosAgents({ dir: join(dir, 'agents'), servers: endpoints, count: agentCount, runtime, marker: `berth-chaos-${runId}-${o.seed}`, log, ...(process.env.BERTH_CHAOS_FORGET_AGENT_STATE === '1' ? { forgetOnRestart: true } : {}) });
      await agents.startAll();
      log(`${agentCount} agents (${runtime} runtime) registered: ${agents.names().join(', ')}`);
    }
    workload = new RegisterWorkload({
      endpoints,
      keys: o.keys ?? 4,
      clients: o.clients ?? 4,
      probes: o.probes ?? Math.min(3, o.replicas),
      timeoutMs: 3000,
      probeTimeoutMs: 1000,
      thinkMs: [5, 25],
      pinnedReaders: true,
      rng: rng.fork(),
      log,
    });
    await workload.setup();
    const wl = workload;
    watch = new WatchRecorder(endpoints, wl.startRv, () => wl.maxAckedRv, log);
    watch.start();
    const t0 = performance.now();
    faults = new Faults(cluster, net, log, t0);
    const base: RunContext = { scenario: sc.name, seed: o.seed, replicas: o.replicas, cluster, net, faults, rng: rng.fork(), endpoints, dir, log, ...(agents ? { agents } : {}) };
    extra.push(...(sc.workloads?.(base) ?? []));
    // --orchestration on a scenario without agents of its own: the orchestration workload too.
    if (agents && !sc.agents) extra.push(orchestrationOf(base).workload());
    for (const w of extra) await w.setup?.();
    wl.start();
    for (const w of extra) w.start();

    const deadline = t0 + o.durationMs;
    const fx = faults;
    const ctx: ScenarioContext = {
      ...base,
      deadline,
      active: () => performance.now() < deadline,
      sleep: (ms) => sleep(Math.max(0, Math.min(ms, deadline - performance.now()))),
      leader: (timeoutMs = 10_000) => cluster.waitForLeader(timeoutMs),
      settle: (timeoutMs = 15_000) => settle(cluster, fx.members(), timeoutMs),
    };
    let scenarioError: string | undefined;
    try {
      await sc.run(ctx);
    } catch (e) {
      scenarioError = (e as Error).stack ?? String(e);
      log(`scenario failed: ${scenarioError}`);
    }
    const faultPhaseMs = performance.now() - t0;
    log(`fault phase over after ${(faultPhaseMs / 1000).toFixed(1)} s: healing everything`);
    await fx.healAll();
    await agents?.healAll();
    // Let the workload see the healed cluster for a moment (recovery after the last heal).
    await sleep(1500);
    await wl.stop();
    for (const w of extra) await w.stop();

    const conv = await converge(cluster, fx.members(), 30_000, log);
    const readClient = new BerthClient({ endpoints, timeoutMs: 5000 });
    const final = await wl.finalReads(readClient, 20_000);
    readClient.close();
    let finalMatches = true;
    if (final && conv.objects) {
      for (const [k, s] of final) {
        const o2 = conv.objects.get(k);
        if (!o2 || o2.rv !== s.rv || o2.value !== s.value) {
          finalMatches = false;
          conv.detail.push(`replicas hold ${k} as ${JSON.stringify(o2?.value)} at ${o2?.rv}, a linearizable read says ${JSON.stringify(s.value)} at ${s.rv}`);
        }
      }
    }
    const converged = conv.ok && finalMatches;
    const finalMax = final ? Math.max(...[...final.values()].map((s) => s.rv)) : wl.maxAckedRv;
    const watchCaughtUp = await watch.caughtUp(finalMax, 15_000);
    watch.stop();

    // Checks -------------------------------------------------------------------------
    const ops = wl.history.ops;
    const checks: CheckResult[] = [];
    const wc = watchCheck(watch.events, ops, wl.init, final, watch.gaps, watch.resumes.length);
    if (!watchCaughtUp) {
      wc.ok = false;
      wc.details = [...(wc.details ?? []), `the watch had not caught up to ${finalMax} 15 s after the run (at ${watch.lastRv})`];
    }
    const observations = watch.events.map((e) => ({ key: e.key, value: e.value, rv: e.rv, at: e.at }));
    const lin = linearizability(ops, wl.init, observations, Math.max(60_000, o.durationMs));
    checks.push(lin.check);
    // "Never delivered by the watch" only counts when the watch is known to be complete.
    const lw = lostWrites(ops, wl.init, final, watch.events, wc.complete && watchCaughtUp);
    checks.push(lw, wc);
    checks.push({ name: 'convergence', ok: converged, summary: converged ? `one leader, every replica applied ${conv.commit}, all hold the same objects` : 'did not converge', details: conv.detail });
    if (scenarioError) checks.push({ name: 'scenario', ok: false, summary: 'the scenario threw', details: [scenarioError] });
    const extraChecks = [...(sc.checks?.(base) ?? []), ...(agents && !sc.agents ? orchestrationOf(base).checks() : [])];
    for (const c of extraChecks) {
      try {
        checks.push(await c.run());
      } catch (e) {
        checks.push({ name: c.name, ok: false, summary: `threw: ${(e as Error).message}` });
      }
    }
    const rec = recovery(fx.records, ops);
    const all = [...rec.inject, ...rec.heal];
    const writes = ops.filter((op) => op.kind !== 'read' && op.client !== 'final');
    const summary: ChaosSummary = {
      bench: 'chaos',
      scenario: sc.name,
      seed: o.seed,
      isolation,
      replicas: o.replicas,
      durationS: r1(faultPhaseMs / 1000),
      faults: fx.records.length,
      ops: ops.filter((op) => op.client !== 'final').length,
      acknowledged: writes.filter((op) => op.status === 'ok').length,
      indeterminate: writes.filter((op) => op.status === 'unknown').length,
      lost: lw.lost,
      linearizable: lin.result.outcome === 'ok' ? true : lin.result.outcome === 'unknown' ? 'unknown' : false,
      watchOk: wc.ok,
      recoverP50Ms: r1(percentile(all, 50)),
      recoverP99Ms: r1(percentile(all, 99)),
      recoverInjectP99Ms: r1(percentile(rec.inject, 99)),
      recoverHealP99Ms: r1(percentile(rec.heal, 99)),
      converged,
      ok: false,
      ...(o.leaseReads ? { leaseReads: true } : {}),
    };
    const byKind = new Map<string, number[]>();
    for (const f of fx.records) {
      const v = Math.max(f.recoverInjectMs ?? 0, f.recoverHealMs ?? 0);
      const l = byKind.get(f.kind) ?? [];
      l.push(v);
      byKind.set(f.kind, l);
    }
    if (agents) {
      const conv = fx.records.map((f) => f.convergeMs).filter((x): x is number => x !== undefined);
      const convHeal = fx.records.map((f) => f.convergeHealMs).filter((x): x is number => x !== undefined);
      summary.agents = agentCount;
      summary.runtime = runtime;
      summary.convergeP50Ms = r1(percentile(conv, 50));
      summary.convergeP99Ms = r1(percentile(conv, 99));
      summary.convergeHealP99Ms = r1(percentile(convHeal, 99));
      const unconverged = fx.records.length - conv.length;
      if (unconverged > 0) summary.unconverged = unconverged;
      const orch = orchestrationOf(base);
      if (orch.finalConvergeMs !== undefined) summary.finalConvergeMs = r1(orch.finalConvergeMs);
      summary.orchestrationOk = checks.filter((c) => ORCH_CHECKS.has(c.name)).every((c) => c.ok);
    }
    summary.recoverByFault = Object.fromEntries(
      [...byKind].map(([k, v]) => {
        const conv = fx.records.filter((f) => f.kind === k && f.convergeMs !== undefined).map((f) => f.convergeMs!);
        return [k, { n: v.length, p50Ms: r1(percentile(v, 50)), p99Ms: r1(percentile(v, 99)), ...(agents ? { convergeP50Ms: r1(percentile(conv, 50)), convergeP99Ms: r1(percentile(conv, 99)) } : {}) }];
      }),
    );
    if (extra.length > 0) summary.workloads = Object.fromEntries(extra.map((w) => [w.name, w.summary?.() ?? {}]));
    if (rec.unrecovered.length > 0) summary.unrecovered = rec.unrecovered.length;
    // Connections to a re-added member that the proxy could not attribute went unfaulted.
    if (net instanceof ProxyNetwork && net.unattributed() > 0) summary.proxyUnattributed = net.unattributed();
    summary.ok = checks.every((c) => c.ok);
    passed = summary.ok;
    const report = formatReport(summary, fx.records, checks, rec.unrecovered, t0, repeat);
    if (!passed || o.keepDir) {
      // Everything the checks saw, for a closer look (times in ms since the fault phase began).
      const rel = (x: number | undefined) => (x === undefined ? null : Math.round((x - t0) * 1000) / 1000);
      const dump = {
        summary,
        repeat,
        init: Object.fromEntries(wl.init),
        final: final ? Object.fromEntries(final) : null,
        faults: fx.records.map((f) => ({ ...f, injectAt: rel(f.injectAt), healAt: rel(f.healAt) })),
        ops: ops.map((op) => ({ ...op, call: rel(op.call), ret: rel(op.ret) })),
        watch: { events: watch.events.map((e) => ({ ...e, at: rel(e.at) })), resumes: watch.resumes, gaps: watch.gaps },
        checks,
      };
      writeFileSync(join(dir, 'history.json'), JSON.stringify(dump));
    }
    return { summary, checks, faults: fx.records, report, repeat, dir };
  } finally {
    await cleanup();
    active.delete(cleanup);
    if (passed && !o.keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

/** Wait until a leader exists and every running member has applied its commit index. */
async function settle(cluster: ChaosCluster, members: number[], timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const l = await cluster.leader();
    if (l) {
      const ls = await cluster.status(l);
      const st = await Promise.all(members.filter((id) => cluster.alive(id)).map((id) => cluster.status(id)));
      if (ls && st.every((s) => s && s.leader === l && s.applied_index >= ls.commit_index - 5)) return true;
    }
    await sleep(50);
  }
  return false;
}

/**
 * After the run: one leader that every member follows, each member's applied index at
 * the leader's commit index, and every member holding the same ConfigMaps.
 */
async function converge(
  cluster: ChaosCluster,
  members: number[],
  timeoutMs: number,
  log: (s: string) => void,
): Promise<{ ok: boolean; commit: number; detail: string[]; objects?: Map<string, { value: string | null; rv: number }> }> {
  const deadline = performance.now() + timeoutMs;
  let detail: string[] = [];
  while (performance.now() < deadline) {
    detail = [];
    const st = await Promise.all(members.map((id) => cluster.status(id)));
    const missing = members.filter((_, i) => !st[i]);
    if (missing.length > 0) detail.push(`no status from ${missing.join(', ')}`);
    const leaders = st.filter((s) => s?.role === 'leader');
    if (leaders.length !== 1) detail.push(`${leaders.length} replicas say they lead`);
    const l = leaders[0];
    if (detail.length === 0 && l) {
      const behind = st.filter((s) => s!.leader !== l.id || s!.term !== l.term || s!.applied_index !== l.commit_index);
      if (behind.length > 0) detail.push(...behind.map((s) => `replica ${s!.id}: leader ${s!.leader} term ${s!.term} applied ${s!.applied_index}, the leader's commit ${l.commit_index}`));
      else {
        const views = await Promise.all(
          members.map(async (id) => {
            const r = await cluster.client(id).list('ConfigMap', { namespace: NAMESPACE, serializable: true }).catch(() => undefined);
            if (!r) return undefined;
            return new Map(r.items.map((o) => [String((o.metadata as { name?: string }).name), { value: valueOf(o), rv: rvOf(o) }]));
          }),
        );
        const canon = views.map((v) => (v ? JSON.stringify([...v].sort(([a], [b]) => (a < b ? -1 : 1))) : ''));
        if (canon.some((c) => c === '')) detail.push('a replica did not list');
        else if (canon.some((c) => c !== canon[0])) {
          members.forEach((id, i) => detail.push(`replica ${id} holds ${canon[i]}`));
        } else {
          return { ok: true, commit: l.commit_index, detail: [], objects: views[0]! };
        }
      }
    }
    await sleep(200);
  }
  log(`did not converge: ${detail.join('; ')}`);
  return { ok: false, commit: 0, detail };
}

function formatReport(s: ChaosSummary, faults: FaultRecord[], checks: CheckResult[], unrecovered: string[], t0: number, repeat: string): string {
  const lines: string[] = [];
  const ms = (x: number | undefined) => (x === undefined ? '-' : String(Math.round(x)));
  lines.push('');
  lines.push(`chaos ${s.scenario} (seed ${s.seed}, ${s.replicas} replicas, ${s.isolation}): ${s.faults} faults in ${s.durationS} s`);
  const orch = s.convergeP99Ms !== undefined;
  lines.push(`   #    at s  fault                                target              held ms  inject→write ms  heal→write ms${orch ? '  inject→converged ms  heal→converged ms' : ''}`);
  for (const f of faults) {
    lines.push(
      `${String(f.n).padStart(4)}  ${((f.injectAt - t0) / 1000).toFixed(1).padStart(6)}  ${f.kind.slice(0, 35).padEnd(35)}  ${f.target.slice(0, 18).padEnd(18)}  ${ms(f.healAt !== undefined ? f.healAt - f.injectAt : undefined).padStart(7)}  ${ms(f.recoverInjectMs).padStart(15)}  ${ms(f.recoverHealMs).padStart(13)}${orch ? `  ${ms(f.convergeMs).padStart(19)}  ${ms(f.convergeHealMs).padStart(17)}` : ''}${f.note ? `  ${f.note}` : ''}`,
    );
  }
  for (const u of unrecovered) lines.push(`  ! ${u}`);
  if (orch) lines.push(`orchestration converged after a fault: p50 ${s.convergeP50Ms} ms, p99 ${s.convergeP99Ms} ms (after heal p99 ${s.convergeHealP99Ms}); after the final heal ${s.finalConvergeMs ?? '-'} ms`);
  lines.push(`ops ${s.ops}, acknowledged writes ${s.acknowledged}, indeterminate ${s.indeterminate}; recovery p50 ${s.recoverP50Ms} ms, p99 ${s.recoverP99Ms} ms (after injection p99 ${s.recoverInjectP99Ms}, after heal p99 ${s.recoverHealP99Ms})`);
  for (const c of checks) {
    lines.push(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.summary}`);
    for (const d of (c.details ?? []).slice(0, c.ok ? 3 : 40)) lines.push(`     ${d.split('\n').join('\n     ')}`);
  }
  if (!s.ok) lines.push(`FAILED. Repeat this seed with:\n  ${repeat}`);
  return lines.join('\n');
}
