/**
 * A short seeded run of every control-plane chaos scenario (bench/chaos): no
 * acknowledged write lost, the history linearizable, the watch complete and in order,
 * and the cluster converged after the faults healed. Network namespaces when this
 * process can make them (root), else the loopback proxies.
 *
 * CHAOS_SEED=N repeats a run with another seed; CHAOS_DURATION=20s lengthens the runs;
 * CHAOS_ISOLATION=proxy|netns forces an isolation.
 */
import test from 'ava';
import { parseDuration } from '../src/cli/flags.ts';
import { resolveIsolation, runChaos } from '../bench/chaos/runner.ts';

const SCENARIOS = [
  'leader-kill',
  'follower-kill',
  'rolling-restart',
  'leader-isolate',
  'minority-partition',
  'majority-partition',
  'bridge',
  'one-way-loss',
  'pause-leader',
  'slow-disk',
  'membership-churn',
  'clock-jump',
  'combined',
];

const durationMs = process.env.CHAOS_DURATION ? parseDuration(process.env.CHAOS_DURATION, 'CHAOS_DURATION') : 12_000;
const wanted = process.env.CHAOS_ISOLATION;
const isolation = resolveIsolation(wanted === 'proxy' || wanted === 'netns' ? wanted : 'auto', false);

SCENARIOS.forEach((name, i) => {
  test.serial(`chaos ${name} (${isolation})`, async (t) => {
    const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : 4242 + i;
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
    t.true(s.converged, 'the cluster did not converge');
    t.true(s.ok, r.report);
  });
});
