/**
 * `berth server`: one control-plane replica (Raft + object store + gRPC API).
 */
import type { ClusterConfig } from '../controllers/types.ts';
import { FaultHooks } from '../server/fault-hooks.ts';
import { BerthServer } from '../server/server.ts';
import { FlagError, parseFlags, parsePeers } from './flags.ts';
import { stderrLogger } from './logger.ts';

export const SERVER_USAGE = `Usage: berth server --id N --peers 1=HOST:PORT,... --listen HOST:PORT --data-dir DIR [options]

Runs one control-plane replica: a Raft member (peer traffic on its --peers address) that
serves the berth.v1 gRPC API on --listen.

Options:
  --id N                     this replica's id (listed in --peers)
  --peers LIST               every member's Raft peer address, id=host:port, comma separated
  --listen HOST:PORT         the client API address (default 127.0.0.1:8001)
  --data-dir DIR             this replica's LevelDB (Raft log and objects)
  --encryption-key-file F    32-byte key (raw or base64) encrypting Secrets at rest
  --join                     join a running cluster (add it first with 'berth cluster add-member')
  --cluster-id NAME          refuse peers of another cluster (default berth)
  --tick-ms N                milliseconds per Raft tick (default 20)
  --compact-objects          keep objects as stored bytes, decoded per read (less memory, slower reads)
  --api-peers LIST           every member's client API address, id=host:port, comma separated
                             (tells agents where the leader is; default: a leader on another
                             host is assumed to listen on this replica's --listen port)
  --node-heartbeat-interval D  agent heartbeat interval (default 10s)
  --node-monitor-grace-period D  heartbeat silence before a node is Ready=Unknown (default 40s)
  --no-controllers           do not run the scheduler and controllers when leading (a bare
                             object store: tests of the control plane alone)
  --scheduler-scoring S      LeastAllocated (spread pods, the default) or MostAllocated
                             (bin packing: fill the fewest nodes); the same on every replica
  --default-toleration-seconds N  how long pods without their own toleration stay on a node
                             tainted not-ready/unreachable:NoExecute before eviction (default 300)
  --quiet                    log warnings only
`;

/** How long a stop (SIGTERM, SIGINT, parent gone) may take before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 20_000;

/* Hidden, test-only: --fault-hooks SPEC (bench/chaos; see src/server/fault-hooks.ts). */
const SCORING_STRATEGIES = ['LeastAllocated', 'MostAllocated'] as const;

export async function runServer(argv: string[]): Promise<void> {
  const f = parseFlags(argv, {
    id: 'int',
    peers: 'string',
    listen: 'string',
    'data-dir': 'string',
    'encryption-key-file': 'string',
    join: 'bool',
    'cluster-id': 'string',
    'tick-ms': 'int',
    'compact-objects': 'bool',
    'api-peers': 'string',
    'node-heartbeat-interval': 'duration',
    'node-monitor-grace-period': 'duration',
    quiet: 'bool',
    'no-controllers': 'bool',
    // Hidden, documented above SCORING_STRATEGIES: cluster settings of the leader's components.
    'default-toleration-seconds': 'int',
    'scheduler-scoring': 'string',
    // Hidden, test-only (bench/chaos): see src/server/fault-hooks.ts.
    'fault-hooks': 'string',
  });
  if (f._.length > 0) throw new FlagError(`unexpected argument "${f._[0]}"`);
  const id = f.id as number | undefined;
  if (!id || id <= 0) throw new FlagError('--id: required, a positive integer');
  if (!f.peers) throw new FlagError('--peers: required, e.g. 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003');
  const peers = parsePeers(f.peers as string);
  if (!peers.has(id)) throw new FlagError(`--peers: does not list this replica's id ${id}`);
  const dataDir = f['data-dir'] as string | undefined;
  if (!dataDir) throw new FlagError('--data-dir: required');
  const listen = (f.listen as string | undefined) ?? '127.0.0.1:8001';
  if (!/^[^\s]+:\d+$/.test(listen)) throw new FlagError(`--listen: "${listen}" is not host:port`);
  const logger = stderrLogger(id, Boolean(f.quiet));
  const clusterConfig: Partial<ClusterConfig> = {};
  const toleration = f['default-toleration-seconds'] as number | undefined;
  if (toleration !== undefined) {
    if (!Number.isInteger(toleration) || toleration < 0) throw new FlagError('--default-toleration-seconds: must be a non-negative integer');
    clusterConfig.defaultTolerationSeconds = toleration;
  }
  const scoring = f['scheduler-scoring'] as string | undefined;
  if (scoring !== undefined) {
    const strategy = SCORING_STRATEGIES.find((s) => s === scoring);
    if (!strategy) throw new FlagError(`--scheduler-scoring: "${scoring}" is not one of ${SCORING_STRATEGIES.join(', ')}`);
    clusterConfig.scoringStrategy = strategy;
  }
  let faultHooks: FaultHooks | undefined;
  try {
    faultHooks = f['fault-hooks'] ? FaultHooks.parse(f['fault-hooks'] as string) : undefined;
  } catch (e) {
    throw new FlagError((e as Error).message);
  }
  const server = await BerthServer.start({
    id,
    clusterId: (f['cluster-id'] as string | undefined) ?? 'berth',
    dataDir,
    listen,
    peers,
    join: Boolean(f.join),
    ...(f['encryption-key-file'] ? { encryptionKeyFile: f['encryption-key-file'] as string } : {}),
    tickMs: (f['tick-ms'] as number | undefined) ?? 20,
    cacheObjects: !f['compact-objects'],
    controllers: !f['no-controllers'],
    ...(f['api-peers'] ? { apiPeers: parsePeers(f['api-peers'] as string) } : {}),
    ...(f['node-heartbeat-interval'] ? { heartbeatIntervalMs: f['node-heartbeat-interval'] as number } : {}),
    ...(f['node-monitor-grace-period'] ? { nodeMonitorGracePeriodMs: f['node-monitor-grace-period'] as number } : {}),
    ...(Object.keys(clusterConfig).length > 0 ? { clusterConfig } : {}),
    ...(faultHooks ? { faultHooks } : {}),
    logger,
  });
  faultHooks?.listen(process);
  logger.info(`serving the API on ${server.apiAddress}, Raft peers on ${peers.get(id)}, data in ${dataDir}`);
  process.send?.({ event: 'ready', id, apiPort: server.apiPort });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // A shutdown that hangs must not keep the process (and its ports and data directory)
    // forever: everything acknowledged is in the Raft log already, so exiting is safe.
    setTimeout(() => {
      logger.error(`shutdown still not done after ${SHUTDOWN_DEADLINE_MS / 1000} s (${server.stopStage}); exiting`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    await server.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.on('disconnect', () => void stop());
}
