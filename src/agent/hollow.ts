/**
 * Hollow nodes for scale benchmarks (kubemark's idea): N agents with the fake runtime in one
 * process, each a full agent — registration, heartbeats, its own Assignments stream, pod
 * workers, status reports — but with containers that run nothing. They share one Node
 * service (for logs) and, through grpc-js's channel pool, the connections to each replica.
 */
import { Agent, type AgentCapacity } from './agent.ts';
import { systemClock, type Clock } from './clock.ts';
import { silentLogger, type AgentLogger } from './log.ts';
import { NodeServer } from './node-server.ts';
import { FakeRuntime } from './runtimes/fake.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface HollowOptions {
  servers: string[];
  count: number;
  /** Nodes are named `<namePrefix>-<i>` (default "hollow"). */
  namePrefix?: string;
  capacity?: AgentCapacity;
  /** Containers become running this long after they are started (default 0: at once). */
  startDelayMs?: number;
  labels?: Record<string, string>;
  /** Agents are started in waves of this many, to spare the control plane a thundering herd (default 50). */
  wave?: number;
  clock?: Clock;
  random?: () => number;
  logger?: AgentLogger;
  /** Wait until every agent has registered before resolving (default true). */
  waitRegistered?: boolean;
}

export interface HollowHandle {
  agents: Agent[];
  nodeServer: NodeServer;
  stop(): Promise<void>;
}

export async function startHollowAgents(opts: HollowOptions): Promise<HollowHandle> {
  const count = Math.max(0, Math.floor(opts.count));
  const prefix = opts.namePrefix ?? 'hollow';
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  const random = opts.random ?? Math.random;
  const nodeServer = await NodeServer.start('127.0.0.1:0', logger);
  // Fake pods have no volumes or logs worth keeping; one scratch directory for the fleet.
  const dataRoot = mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
  const agents: Agent[] = [];
  const wave = Math.max(1, opts.wave ?? 50);
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${i}`;
    const runtime = new FakeRuntime({ clock, startDelayMs: opts.startDelayMs ?? 0, podIp: (n) => `10.${(i >> 8) & 255}.${i & 255}.${n & 255}` });
    const agent = new Agent({
      name,
      servers: opts.servers,
      runtime,
      dataDir: join(dataRoot, name),
      ...(opts.labels ? { labels: opts.labels } : {}),
      ...(opts.capacity ? { capacity: opts.capacity } : { capacity: { cpu: '4', memory: '16Gi', pods: 110 } }),
      nodeServer,
      nodeIP: '127.0.0.1',
      clock,
      random,
      logger,
      // A hollow runtime changes only when its agent acts: relist and resync rarely.
      relistMs: 10_000,
      resyncMs: 300_000,
      hostStats: false,
    });
    await agent.start();
    agents.push(agent);
    if ((i + 1) % wave === 0) await new Promise((r) => setTimeout(r, 20));
  }
  if (opts.waitRegistered ?? true) await Promise.all(agents.map((a) => a.registered));
  return {
    agents,
    nodeServer,
    async stop() {
      await Promise.all(agents.map((a) => a.stop()));
      await nodeServer.stop();
      rmSync(dataRoot, { recursive: true, force: true });
    },
  };
}
