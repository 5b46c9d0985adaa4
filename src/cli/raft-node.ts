/**
 * `berth raft-node`: one Raft replica as an OS process, with a small replicated register
 * as its state machine. Used by `berth up` (until the object store lands), by the
 * multi-process tests and by the raft/failover benchmarks.
 *
 * When started with an IPC channel (child_process.fork), it answers control requests:
 * status, propose, load (a closed-loop benchmark run inside this process), applied,
 * transfer, add-voter, remove.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { Replica, ReplicaError, type StateMachine } from '../raft/index.ts';
import type { Entry } from '../raft/index.ts';
import { parseFlags, parsePeers, FlagError } from './flags.ts';
import { stderrLogger } from './logger.ts';

/** Remembers every value applied, in order, plus a running digest. */
export class RegisterMachine implements StateMachine {
  values: string[] = [];
  index = 0;
  private keep: boolean;
  constructor(keep: boolean) {
    this.keep = keep;
  }
  apply(entries: Entry[]): void {
    for (const e of entries) {
      if (this.keep) this.values.push(Buffer.from(e.data).toString('latin1'));
      this.index = e.index;
    }
  }
  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify({ values: this.values, index: this.index }));
  }
  restore(data: Uint8Array, index: number): void {
    const s = data.length > 0 ? (JSON.parse(Buffer.from(data).toString()) as { values: string[]; index: number }) : { values: [], index };
    this.values = s.values;
    this.index = index;
  }
  digest(): string {
    return createHash('sha256').update(this.values.join('\n')).digest('hex').slice(0, 16);
  }
}

export const RAFT_NODE_USAGE = `Usage: berth raft-node --id N --peers 1=HOST:PORT,2=HOST:PORT,... --data-dir DIR [options]

Options:
  --id N              this replica's id (a positive integer listed in --peers)
  --peers LIST        every member's peer address, id=host:port, comma separated
  --data-dir DIR      where this replica's LevelDB lives
  --cluster-id NAME   cluster name; replicas of another cluster are refused (default berth)
  --join              join an existing cluster (do not bootstrap a new one)
  --tick-ms N         milliseconds per Raft tick (default 20)
  --election-tick N   ticks before a follower campaigns (default 10)
  --keep-values       keep every applied value in memory (tests)
  --fsync-delay-ms N  test hook: delay every synced write
  --quiet             log warnings only
`;

interface Request {
  rid: number;
  cmd: string;
  [k: string]: unknown;
}

export async function runRaftNode(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, {
    id: 'int',
    peers: 'string',
    'data-dir': 'string',
    'cluster-id': 'string',
    join: 'bool',
    'tick-ms': 'int',
    'election-tick': 'int',
    'keep-values': 'bool',
    'fsync-delay-ms': 'int',
    quiet: 'bool',
    help: 'bool',
  });
  if (flags.help) {
    process.stdout.write(RAFT_NODE_USAGE);
    return;
  }
  const id = flags.id as number | undefined;
  if (!id || id <= 0) throw new FlagError('--id: required, a positive integer');
  if (!flags.peers) throw new FlagError('--peers: required, e.g. 1=127.0.0.1:7001,2=127.0.0.1:7002');
  const peers = parsePeers(flags.peers as string);
  const listen = peers.get(id);
  if (!listen) throw new FlagError(`--peers: does not list this replica's id ${id}`);
  const dataDir = flags['data-dir'] as string | undefined;
  if (!dataDir) throw new FlagError('--data-dir: required');
  mkdirSync(dataDir, { recursive: true });
  const logger = stderrLogger(id, Boolean(flags.quiet));
  const machine = new RegisterMachine(Boolean(flags['keep-values']));
  const replica = await Replica.start({
    id,
    clusterId: (flags['cluster-id'] as string | undefined) ?? 'berth',
    dataDir,
    listen,
    peers,
    bootstrap: flags.join ? [] : [...peers.keys()],
    stateMachine: machine,
    tickMs: (flags['tick-ms'] as number | undefined) ?? 20,
    raft: flags['election-tick'] ? { electionTick: flags['election-tick'] as number } : {},
    fsyncDelayMs: (flags['fsync-delay-ms'] as number | undefined) ?? 0,
    logger,
  });
  logger.info(`replica ${id} listening on ${listen}, data in ${dataDir}`);

  let lastRole = '';
  const reportRole = () => {
    const s = replica.status();
    const key = `${s.role}/${s.term}/${s.leader}`;
    if (key !== lastRole) {
      lastRole = key;
      process.send?.({ event: 'role', role: s.role, term: s.term, leader: s.leader });
    }
  };
  const roleTimer = setInterval(reportRole, 5);

  const shutdown = async () => {
    clearInterval(roleTimer);
    await replica.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());

  if (process.send) {
    process.on('message', (req: Request) => {
      void handle(replica, machine, req).then(
        (result) => process.send?.({ rid: req.rid, ok: true, result }),
        (e: Error) =>
          process.send?.({ rid: req.rid, ok: false, error: { message: e.message, code: e instanceof ReplicaError ? e.code : 'internal', leader: e instanceof ReplicaError ? e.leader : 0 } }),
      );
    });
    process.on('disconnect', () => void shutdown());
    process.send({ event: 'ready', id, port: replica.peerPort });
  }
}

async function handle(replica: Replica, machine: RegisterMachine, req: Request): Promise<unknown> {
  switch (req.cmd) {
    case 'status':
      return { ...replica.status(), digest: machine.digest(), count: machine.values.length, machineIndex: machine.index };
    case 'propose': {
      const index = await replica.propose(Buffer.from(String(req.value), 'latin1'));
      return { index };
    }
    case 'read':
      return { index: await replica.readIndex() };
    case 'applied':
      return { values: machine.values, index: machine.index };
    case 'transfer':
      await replica.transferLeader(Number(req.to));
      return {};
    case 'add-voter':
      await replica.addVoter(Number(req.id), String(req.addr));
      return {};
    case 'remove':
      await replica.removeMember(Number(req.id));
      return {};
    case 'load':
      return runLoad(replica, Number(req.inflight), Number(req.count), Number(req.valueBytes));
    default:
      throw new Error(`unknown command ${req.cmd}`);
  }
}

/**
 * Closed-loop load inside the leader's process: `inflight` proposals outstanding at all
 * times until `count` have committed. Latency is measured from propose() to its
 * resolution (committed on a quorum, durable and applied here).
 */
async function runLoad(replica: Replica, inflight: number, count: number, valueBytes: number) {
  const lat = new Float64Array(count);
  let started = 0;
  let done = 0;
  let failed = 0;
  const value = Buffer.alloc(valueBytes, 0x61);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const launch = () => {
      while (started < count && started - done - failed < inflight) {
        const i = started++;
        const t = performance.now();
        replica.propose(value).then(
          () => {
            lat[i] = performance.now() - t;
            done++;
            if (done + failed === count) resolve();
            else launch();
          },
          () => {
            lat[i] = -1;
            failed++;
            if (done + failed === count) resolve();
            else launch();
          },
        );
      }
    };
    launch();
  });
  const elapsed = performance.now() - t0;
  const ok = Array.from(lat).filter((x) => x >= 0).sort((a, b) => a - b);
  const pct = (p: number) => (ok.length === 0 ? 0 : ok[Math.min(ok.length - 1, Math.floor((p / 100) * ok.length))]!);
  return {
    inflight,
    ops: done,
    failed,
    opsPerSec: Math.round((done / elapsed) * 1000),
    p50Ms: round(pct(50)),
    p99Ms: round(pct(99)),
    maxMs: round(ok[ok.length - 1] ?? 0),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
