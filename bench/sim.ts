/**
 * The seeded Raft simulation from the command line.
 *
 *   npm run sim -- --seeds N [--seed S] [--replicas 3|5] [--steps K]
 *                  [--no-churn] [--no-snapshots] [--no-crashes] [--no-partitions]
 *                  [--lease | --no-lease] [--verbose] [--raft-logs]
 *
 * Lease reads: by default half of the runs with checkQuorum use them (decided by the
 * seed); --lease makes every such run use them, --no-lease none.
 *
 * With --seed S alone, runs that one seed (add --verbose for its step-by-step trace).
 * With --seeds N, runs seeds S, S+1, … S+N-1 (S defaults to 1). Exits 1 if any failed.
 * The last line of output is one JSON object: {"bench":"sim","seeds":N,"failures":F,...}.
 */
import { DEFAULT_OPTIONS, runSim, type SimOptions } from '../test/sim/cluster.ts';

function usage(msg: string): never {
  process.stderr.write(`sim: ${msg}\nusage: npm run sim -- --seeds N [--seed S] [--replicas 3|5] [--steps K] [--no-churn] [--no-snapshots] [--no-crashes] [--no-partitions] [--lease | --no-lease] [--verbose] [--raft-logs]\n`);
  process.exit(2);
}

function intArg(v: string | undefined, name: string): number {
  if (v === undefined || !/^\d+$/.test(v)) usage(`${name} needs a non-negative integer`);
  return Number(v);
}

const args = process.argv.slice(2);
let seeds: number | undefined;
let seed: number | undefined;
const base: Omit<SimOptions, 'seed'> = { ...DEFAULT_OPTIONS };
let verbose = false;
let raftLogs = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  switch (a) {
    case '--seeds':
      seeds = intArg(args[++i], a);
      break;
    case '--seed':
      seed = intArg(args[++i], a);
      break;
    case '--replicas':
      base.replicas = intArg(args[++i], a);
      if (base.replicas !== 3 && base.replicas !== 5) usage('--replicas must be 3 or 5');
      break;
    case '--steps':
      base.steps = intArg(args[++i], a);
      break;
    case '--no-churn':
      base.churn = false;
      break;
    case '--no-snapshots':
      base.snapshots = false;
      break;
    case '--no-crashes':
      base.crashes = false;
      break;
    case '--no-partitions':
      base.partitions = false;
      break;
    case '--lease':
      base.lease = true;
      break;
    case '--no-lease':
      base.lease = false;
      break;
    case '--verbose':
      verbose = true;
      break;
    case '--raft-logs':
      verbose = true;
      raftLogs = true;
      break;
    default:
      usage(`unknown argument ${a}`);
  }
}
const first = seed ?? 1;
const count = seeds ?? (seed !== undefined ? 1 : 100);

const started = performance.now();
let failures = 0;
const failed: number[] = [];
let steps = 0;
let proposals = 0;
let acked = 0;
let reads = 0;
let readsAtOnce = 0;
let leaseRuns = 0;
let crashes = 0;
let snapMsgs = 0;
let confApplied = 0;
for (let s = first; s < first + count; s++) {
  const o: SimOptions = { ...base, seed: s };
  if (verbose) o.verbose = (line) => process.stdout.write(`${line}\n`);
  if (raftLogs) o.raftLogs = true;
  const res = runSim(o);
  steps += res.stats.steps + res.stats.healSteps;
  proposals += res.stats.proposals;
  acked += res.stats.acked;
  reads += res.stats.readsServed;
  readsAtOnce += res.stats.readsAtOnce;
  if (res.lease) leaseRuns++;
  crashes += res.stats.crashes;
  snapMsgs += res.stats.snapMsgs;
  confApplied += res.stats.confApplied;
  if (!res.ok) {
    failures++;
    failed.push(s);
    process.stdout.write(`FAIL seed ${s}: ${res.error}\n  replay: ${res.command}\n`);
  } else if (count === 1) {
    process.stdout.write(`ok seed ${s}${res.lease ? ' (lease reads)' : ''} trace ${res.traceHash} ${JSON.stringify(res.stats)}\n`);
  }
  const done = s - first + 1;
  if (count > 1 && (done % 50 === 0 || done === count)) {
    process.stdout.write(`${done}/${count} seeds, ${failures} failed, ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  }
}
const ms = Math.round(performance.now() - started);
process.stdout.write(
  `${JSON.stringify({ bench: 'sim', seeds: count, failures, failedSeeds: failed.slice(0, 20), firstSeed: first, replicas: base.replicas, stepsPerSeed: base.steps, churn: base.churn, snapshots: base.snapshots, totalSteps: steps, proposals, acked, readsServed: reads, leaseRuns, readsAtOnce, crashes, snapMsgs, confApplied, ms })}\n`,
);
process.exit(failures > 0 ? 1 : 0);
