/**
 * A short seeded run of the orchestration chaos scenarios (bench/chaos): node agents of the
 * process runtime beside three replicas, Deployments scaled, rolled out and rolled back and
 * Jobs run while nodes die with their pods (node-loss) or agents are killed -9 and restarted
 * (agent-restart). Every check must pass: the register workload (no lost write,
 * linearizable, watch complete, converged) and the orchestration checks (Deployments and
 * Jobs at their specified end state, no pod running twice, no node overcommitted).
 *
 * CHAOS_SEED=N repeats a run with another seed; CHAOS_DURATION=30s lengthens the runs;
 * CHAOS_ISOLATION=proxy|netns forces an isolation.
 */
import test from 'ava';
import { parseDuration } from '../src/cli/flags.ts';
import { resolveIsolation, runChaos } from '../bench/chaos/runner.ts';

const SCENARIOS = ['node-loss', 'agent-restart'];
const ORCH_CHECKS = ['deployments converge', 'jobs end as specified', 'no pod runs twice', 'no node overcommitted'];

const durationMs = process.env.CHAOS_DURATION ? parseDuration(process.env.CHAOS_DURATION, 'CHAOS_DURATION') : 20_000;
const wanted = process.env.CHAOS_ISOLATION;
const isolation = resolveIsolation(wanted === 'proxy' || wanted === 'netns' ? wanted : 'auto', false);

SCENARIOS.forEach((name, i) => {
  test.serial(`chaos ${name} (${isolation}, process agents)`, async (t) => {
    const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : 7100 + i;
    const lines: string[] = [];
    const r = await runChaos({ scenario: name, seed, durationMs, replicas: 3, isolation, log: (s) => lines.push(s) });
    const s = r.summary;
    if (!s.ok) {
      t.log(lines.join('\n'));
      t.log(r.report);
      t.log(`repeat with: ${r.repeat}`);
    }
    t.true(s.faults > 0, 'no fault was injected');
    t.true(s.acknowledged > 0, 'no write was acknowledged');
    t.is(s.lost, 0);
    t.is(s.linearizable, true);
    t.true(s.watchOk, 'the watch check failed');
    t.true(s.converged, 'the control plane did not converge');
    for (const c of ORCH_CHECKS) {
      const got = r.checks.find((x) => x.name === c);
      t.truthy(got, `no "${c}" check`);
      t.true(got?.ok, `${c}: ${got?.summary}\n${(got?.details ?? []).join('\n')}`);
    }
    const wl = (s.workloads as Record<string, Record<string, number>> | undefined)?.orchestration;
    t.truthy(wl, 'no orchestration workload summary');
    t.true((wl?.jobs ?? 0) >= 2, 'jobs were created');
    t.true((wl?.processSamples ?? 0) > 0, 'what runs was sampled');
    t.is(s.orchestrationOk, true);
    t.true(s.ok, r.report);
  });
});
