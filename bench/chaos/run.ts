/**
 * `npm run chaos -- SCENARIO [--seed S] [--duration 60s] [--replicas 3|5]
 *                   [--isolation netns|proxy] [--lease-reads] [--keep]`
 *
 * Runs one chaos scenario against a cluster of its own (see runner.ts) and prints a
 * table per fault and the checks on stderr, and one JSON object as the last stdout line.
 * Exits 1 when a check failed (after printing the command that repeats the seed).
 */
import { parseDuration } from '../../src/cli/flags.ts';
import { freshSeed } from './rng.ts';
import { abortAll, runChaos, type Isolation } from './runner.ts';
import { SCENARIOS } from './scenarios.ts';

const USAGE = `usage: npm run chaos -- SCENARIO [--seed S] [--duration 60s] [--replicas 3|5] [--isolation netns|proxy] [--lease-reads] [--keep]

scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(20)} ${s.description}`).join('\n')}

--isolation: netns (each replica in its own network namespace; root only) or proxy (a
fault-injecting TCP proxy per directed pair on loopback). Default: netns when usable and
the scenario needs no per-link delay or loss, else proxy.
--lease-reads: replicas serve reads from leader leases (test-only hook), to check clock
faults against lease reads.
--keep: keep the scratch directory (replica data and logs) even when the run passed.`;

function fail(msg: string): never {
  process.stderr.write(`${msg}\n\n${USAGE}\n`);
  process.exit(2);
}

const argv = process.argv.slice(2);
let name: string | undefined;
let seed: number | undefined;
let durationMs = 60_000;
let replicas = 3;
let isolation: Isolation = 'auto';
let leaseReads = false;
let keep = false;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
  if (!m) {
    if (name) fail(`unexpected argument ${a}`);
    name = a;
    continue;
  }
  const flag = m[1]!;
  if (flag === 'lease-reads' || flag === 'keep') {
    if (flag === 'lease-reads') leaseReads = true;
    else keep = true;
    continue;
  }
  const v = m[2] ?? argv[++i];
  if (v === undefined) fail(`--${flag}: needs a value`);
  switch (flag) {
    case 'seed':
      if (!/^\d+$/.test(v)) fail('--seed: a non-negative integer');
      seed = Number(v);
      break;
    case 'duration':
      try {
        durationMs = /^\d+$/.test(v) ? Number(v) * 1000 : parseDuration(v, '--duration');
      } catch (e) {
        fail((e as Error).message);
      }
      break;
    case 'replicas':
      if (v !== '3' && v !== '5') fail('--replicas: 3 or 5');
      replicas = Number(v);
      break;
    case 'isolation':
      if (v !== 'netns' && v !== 'proxy') fail('--isolation: netns or proxy');
      isolation = v;
      break;
    case 'help':
      fail('');
      break;
    default:
      fail(`unknown flag --${flag}`);
  }
}
if (!name) fail('which scenario?');
if (!SCENARIOS.some((s) => s.name === name)) fail(`unknown scenario "${name}"`);

let interrupted = false;
const onSignal = (sig: NodeJS.Signals) => {
  if (interrupted) process.exit(130);
  interrupted = true;
  process.stderr.write(`\n${sig}: stopping the cluster and removing what this run created...\n`);
  void abortAll().finally(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const result = await runChaos({ scenario: name, seed: seed ?? freshSeed(), durationMs, replicas, isolation, leaseReads, keepDir: keep });
process.stderr.write(`${result.report}\n`);
if (!result.summary.ok) process.stderr.write(`replica data and logs kept in ${result.dir}\n`);
process.stdout.write(`${JSON.stringify(result.summary)}\n`);
process.exit(result.summary.ok ? 0 : 1);
