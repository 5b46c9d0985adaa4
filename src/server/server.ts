/**
 * One control-plane replica: the Raft replica, the object store as its state machine
 * (both in one LevelDB), and the berth.v1 gRPC API. Leader-only duties start once this
 * replica leads and has committed in its term.
 */
import * as grpc from '@grpc/grpc-js';
import { setMaxListeners } from 'node:events';
import { mkdirSync } from 'node:fs';
import { kindInfo } from '../api/index.ts';
import { LogStore, Replica, type NodeId, type ReplicaOptions } from '../raft/index.ts';
import { LevelKV, ObjectStore, SecretCipher } from '../store/index.ts';
import { AgentsControl } from './agents/index.ts';
import { DEFAULT_CLUSTER_CONFIG, type ClusterConfig } from '../controllers/types.ts';
import { ClusterEventRecorder } from '../controllers/events.ts';
import { bindingFits } from '../scheduler/fit.ts';
import { leaderComponents } from './components.ts';
import { startLeaderComponents } from './leader.ts';
import type { FaultHooks } from './fault-hooks.ts';
import { StoreMachine } from './machine.ts';
import { ObjectsApi } from './objects.ts';
import { Proposer } from './proposer.ts';
import { clusterService, loadApi, objectsService, objectsServiceDefinition } from './service.ts';

/** The object store's keys live behind this first byte, beside the Raft log's 0x01..0x06. */
const STORE_PREFIX = new Uint8Array([0x10]);

export interface ServerOptions {
  id: NodeId;
  clusterId: string;
  dataDir: string;
  /** Client API address, e.g. 127.0.0.1:8001 (port 0: any). */
  listen: string;
  /** Raft peer addresses of every member, this one's included. */
  peers: Map<NodeId, string>;
  /** Join a running cluster instead of bootstrapping a new one. */
  join: boolean;
  /** AES-256 key for Secrets at rest; without it Secrets are refused. */
  encryptionKeyFile?: string;
  tickMs?: number;
  logger?: ReplicaOptions['logger'];
  fsyncDelayMs?: number;
  snapshotEntries?: number;
  /** Test-only fault hooks (hidden flag --fault-hooks; bench/chaos). Absent: none. */
  faultHooks?: FaultHooks;
  /**
   * Keep objects decoded in memory once read (the default: reads about 25% cheaper).
   * False keeps them as their stored bytes and decodes per read (less memory).
   */
  cacheObjects?: boolean;
  /** Other members' client API addresses (--api-peers), for the leader hint agents get. */
  apiPeers?: Map<NodeId, string>;
  /** Agent heartbeat interval handed out at registration (default 1000 ms). */
  heartbeatIntervalMs?: number;
  /** Heartbeat silence after which the leader marks a node Ready=Unknown (default 40 s). */
  nodeMonitorGracePeriodMs?: number;
  /** Settings of the scheduler and controllers (defaults: DEFAULT_CLUSTER_CONFIG). */
  clusterConfig?: Partial<ClusterConfig>;
  /** Run the scheduler and controllers while leading (default true). */
  controllers?: boolean;
}

const nullLogger = { debug() {}, info() {}, warn() {}, error() {} };

export class BerthServer {
  private grpcServer!: grpc.Server;
  private port = 0;
  private leaderDuties: AbortController | undefined;
  private bookmarkTimer: NodeJS.Timeout | undefined;
  /** The agent API (Agents, Pods): liveness and usage for the leader's components. */
  agents!: AgentsControl;

  private constructor(
    readonly opts: ServerOptions,
    readonly replica: Replica,
    readonly store: ObjectStore,
    readonly api: ObjectsApi,
    private readonly proposer: Proposer,
  ) {}

  static async start(opts: ServerOptions): Promise<BerthServer> {
    const log = opts.logger ?? nullLogger;
    mkdirSync(opts.dataDir, { recursive: true });
    const cipher = opts.encryptionKeyFile ? SecretCipher.fromKeyFile(opts.encryptionKeyFile) : undefined;
    const logStore = await LogStore.open(opts.dataDir, { fsyncDelayMs: opts.fsyncDelayMs ?? 0, logger: log });
    opts.faultHooks?.attachLogStore(logStore);
    const store = await ObjectStore.open(new LevelKV(logStore.database, STORE_PREFIX), {
      kindInfo: (k) => {
        const i = kindInfo(k);
        return i ? { plural: i.plural, namespaced: i.namespaced } : undefined;
      },
      logger: log,
      cacheDecoded: opts.cacheObjects ?? true,
      // Every binding is re-checked as it applies: no node is ever overcommitted.
      bindCheck: (node, pod, podsOnNode) => bindingFits(node, pod, podsOnNode),
    });
    let fatal: (e: Error) => void = () => {};
    const machine = new StoreMachine(store, (e) => fatal(e));
    const peerListen = opts.peers.get(opts.id);
    if (!peerListen) throw new Error(`--peers does not list this replica's id ${opts.id}`);
    const replica = await Replica.start({
      id: opts.id,
      clusterId: opts.clusterId,
      dataDir: opts.dataDir,
      logStore,
      listen: peerListen,
      peers: opts.peers,
      bootstrap: opts.join ? [] : [...opts.peers.keys()],
      stateMachine: machine,
      tickMs: opts.tickMs ?? 20,
      logger: log,
      ...(opts.snapshotEntries ? { snapshotEntries: opts.snapshotEntries } : {}),
      ...(opts.faultHooks ? { clock: opts.faultHooks.clock, raft: opts.faultHooks.raftConfig() } : {}),
    });
    const proposer = new Proposer(replica);
    machine.proposer = proposer;
    const api = new ObjectsApi({ replica, store, proposer, cipher, waitApplied: (i) => machine.waitApplied(i) });
    const server = new BerthServer(opts, replica, store, api, proposer);
    server.agents = new AgentsControl({
      replica,
      store,
      api,
      proposer,
      cipher,
      waitApplied: (i) => machine.waitApplied(i),
      clusterId: opts.clusterId,
      apiAddress: () => server.apiAddress,
      ...(opts.apiPeers ? { apiPeers: opts.apiPeers } : {}),
      ...(opts.heartbeatIntervalMs ? { heartbeatIntervalMs: opts.heartbeatIntervalMs } : {}),
      ...(opts.nodeMonitorGracePeriodMs ? { nodeMonitorGracePeriodMs: opts.nodeMonitorGracePeriodMs } : {}),
      logger: log,
    });
    server.agents.start();
    fatal = (e) => {
      // The object store can no longer write: serving would answer from a state that
      // falls ever further behind the log. Stop; a restart re-applies from the log.
      log.error(`object store write failed: ${e.message}; stopping this replica`);
      void server.stop().finally(() => process.exitCode = 1);
    };
    await server.serve();
    replica.onStateChange((role) => server.onRole(role));
    server.onRole(replica.status().role);
    server.bookmarkTimer = setInterval(() => store.bookmark(), 10_000);
    server.bookmarkTimer.unref();
    return server;
  }

  get apiPort(): number {
    return this.port;
  }

  get apiAddress(): string {
    const host = this.opts.listen.slice(0, this.opts.listen.lastIndexOf(':'));
    return `${host}:${this.port}`;
  }

  private async serve(): Promise<void> {
    const pkg = loadApi();
    this.grpcServer = new grpc.Server({
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_permit_without_calls': 1,
      // Channelz bookkeeping costs a few percent of CPU per call; nothing here reads it.
      'grpc.enable_channelz': 0,
    });
    const deps = { api: this.api, replica: this.replica, clusterId: this.opts.clusterId, apiAddress: () => this.apiAddress, memberApiAddress: (id: number) => this.agents.hints.apiAddressOf(id) };
    this.grpcServer.addService(objectsServiceDefinition(pkg), objectsService(deps));
    this.grpcServer.addService((pkg.Cluster as grpc.ServiceClientConstructor).service, clusterService(deps));
    this.agents.addServices(this.grpcServer, pkg);
    this.port = await new Promise<number>((resolve, reject) =>
      this.grpcServer.bindAsync(this.opts.listen, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  /**
   * Leader duties run while this replica leads (ARCHITECTURE rule 4): they start after
   * the leader has committed in its term and stop at once when leadership is lost.
   */
  private onRole(role: string): void {
    this.agents.onRole(role);
    if (role === 'leader' && !this.leaderDuties) {
      const ac = new AbortController();
      // One listener per leader component: a known, fixed number, not a leak.
      setMaxListeners(64, ac.signal);
      this.leaderDuties = ac;
      void this.runLeaderDuties(ac.signal);
    } else if (role !== 'leader' && this.leaderDuties) {
      this.leaderDuties.abort();
      this.leaderDuties = undefined;
    }
  }

  private async runLeaderDuties(signal: AbortSignal): Promise<void> {
    // The first read index of a new leader completes once its no-op has committed.
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await this.replica.readIndex(2000);
        await this.api.ensureNamespaces(Date.now() + 5000);
        this.agents.startLeaderDuties(signal);
        if (this.opts.controllers !== false) this.startComponents(signal);
        return;
      } catch (e) {
        if (signal.aborted) return;
        this.opts.logger?.warn(`leader duties: ${(e as Error).message}; retrying`);
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
      }
    }
  }

  private startComponents(signal: AbortSignal): void {
    const log = this.opts.logger ?? nullLogger;
    const config: ClusterConfig = {
      ...DEFAULT_CLUSTER_CONFIG,
      ...(this.opts.nodeMonitorGracePeriodMs ? { nodeMonitorGracePeriodMs: this.opts.nodeMonitorGracePeriodMs } : {}),
      ...this.opts.clusterConfig,
    };
    startLeaderComponents(
      {
        api: this.api,
        store: this.store,
        config,
        log,
        usage: this.agents.usage,
        liveness: this.agents.liveness,
        components: leaderComponents,
        events: (ctx) => new ClusterEventRecorder({ cluster: ctx.cluster, clock: ctx.clock, component: 'berth-controller-manager', log }),
      },
      this.replica.status().term,
      signal,
    );
  }

  /** What stop() is waiting for, for a shutdown that takes too long to say where it is. */
  stopStage = 'running';

  async stop(): Promise<void> {
    this.stopStage = 'stopping leader duties and agent streams';
    this.leaderDuties?.abort();
    clearInterval(this.bookmarkTimer);
    this.agents.stop();
    this.stopStage = 'ending gRPC calls';
    await new Promise<void>((resolve) => {
      this.grpcServer.tryShutdown(() => resolve());
      setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, 2000).unref();
    });
    this.stopStage = 'stopping the Raft replica (its loop, transport, state machine and log)';
    await this.replica.stop();
    this.proposer.failAll(new Error('server stopped'));
    this.stopStage = 'closing the object store';
    await this.store.close();
    this.stopStage = 'stopped';
  }
}
