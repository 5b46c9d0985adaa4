/**
 * `npm run chaos -- SCENARIO|all [--seed S] [--duration 60s] [--replicas 3|5]
 *                   [--isolation netns|proxy] [--lease-reads] [--keep]
 *                   [--orchestration] [--agents N] [--runtime process]`
 *
 * Runs one chaos scenario against a cluster of its own (see runner.ts) and prints a
 * table per fault and the checks on stderr, and one JSON object as the last stdout line.
 * Exits 1 when a check failed (after printing the command that repeats the seed).
 * `all` runs every scenario in turn (seed S, S+1, ...): one JSON line each, then one
 * line for the whole.
 */
import { parseDuration } from '../../src/cli/flags.ts';
import { freshSeed } from './rng.ts';
import { abortAll, DEFAULT_AGENTS, runChaos, type Isolation } from './runner.ts';
import { SCENARIOS } from './scenarios.ts';

const USAGE = `usage: npm run chaos -- SCENARIO|all [--seed S] [--duration 60s] [--replicas 3|5] [--isolation netns|proxy] [--lease-reads] [--keep]
                        [--orchestration] [--agents N] [--runtime process]

scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(20)} ${s.description}`).join('\n')}
  ${'all'.padEnd(20)} every scenario above in turn (seed S, S+1, ...)

--isolation: netns (each replica in its own network namespace; root only) or proxy (a
fault-injecting TCP proxy per directed pair on loopback). Default: netns when usable and
the scenario needs no per-link delay or loss, else proxy.
--lease-reads: replicas serve reads from leader leases (test-only hook), to check clock
faults against lease reads.
--keep: keep the scratch directory (replica data and logs) even when the run passed.
--orchestration: also start node agents and the orchestration workload (Deployments,
Jobs) and check them (node-loss and agent-restart always do; combined then also kills
agents and nodes).
--agents N: node agents of such runs (default ${DEFAULT_AGENTS}, 3-20).
--runtime process: the agents' container runtime (only process so far).`;

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
let orchestration = false;
let agents: number | undefined;
let runtime: 'process' | 'cri' | undefined;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
  if (!m) {
    if (name) fail(`unexpected argument ${a}`);
    name = a;
    continue;
  }
  const flag = m[1]!;
  if (flag === 'lease-reads' || flag === 'keep' || flag === 'orchestration') {
    if (m[2] !== undefined) fail(`--${flag}: takes no value`);
    if (flag === 'lease-reads') leaseReads = true;
    else if (flag === 'keep') keep = true;
    else orchestration = true;
    continue;
  }
  if (flag === 'help') fail('');
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
    case 'agents':
      if (!/^\d+$/.test(v) || Number(v) < 3 || Number(v) > 20) fail('--agents: an integer from 3 to 20');
      agents = Number(v);
      break;
    case 'runtime':
      if (v !== 'process' && v !== 'cri') fail('--runtime: process (cri is not supported by the chaos runner yet)');
      if (v === 'cri') fail('--runtime cri: not supported by the chaos runner yet (use process)');
      runtime = v;
      break;
    default:
      fail(`unknown flag --${flag}`);
  }
}
if (!name) fail('which scenario?');
if (name !== 'all' && !SCENARIOS.some((s) => s.name === name)) fail(`unknown scenario "${name}"`);

let interrupted = false;
const onSignal = (sig: NodeJS.Signals) => {
  if (interrupted) process.exit(130);
  interrupted = true;
  process.stderr.write(`\n${sig}: stopping the cluster and removing what this run created...\n`);
  void abortAll().finally(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const base = seed ?? freshSeed();
const names = name === 'all' ? SCENARIOS.map((s) => s.name) : [name];
const failed: string[] = [];
for (const [i, scenario] of names.entries()) {
  const sc = SCENARIOS.find((s) => s.name === scenario)!;
  if (name === 'all' && replicas < (sc.minReplicas ?? 3)) continue;
  const result = await runChaos({
    scenario,
    seed: base + i,
    durationMs,
    replicas,
    isolation,
    leaseReads,
    keepDir: keep,
    ...(orchestration ? { orchestration } : {}),
    ...(agents !== undefined ? { agents } : {}),
    ...(runtime ? { runtime } : {}),
  });
  process.stderr.write(`${result.report}\n`);
  if (!result.summary.ok) {
    process.stderr.write(`replica data and logs kept in ${result.dir}\n`);
    failed.push(`${scenario} (${result.repeat})`);
  }
  process.stdout.write(`${JSON.stringify(result.summary)}\n`);
}
if (names.length > 1) process.stdout.write(`${JSON.stringify({ bench: 'chaos', scenario: 'all', seed: base, runs: names.length, failed, ok: failed.length === 0 })}\n`);
process.exit(failed.length === 0 ? 0 : 1);
