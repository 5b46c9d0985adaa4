/**
 * The small interface between the chaos runner and its scenarios. A scenario injects
 * faults while the register workload runs; it may bring workloads and checks of its own
 * (the orchestration scenarios add Deployments, Jobs and their convergence checks), which
 * the runner starts with the register workload and runs after the cluster has converged.
 */
import type { ChaosAgents } from './agents.ts';
import type { ChaosCluster } from './cluster.ts';
import type { Faults } from './faults.ts';
import type { Network } from './network.ts';
import type { Rng } from './rng.ts';

export interface RunContext {
  scenario: string;
  seed: number;
  replicas: number;
  cluster: ChaosCluster;
  net: Network;
  faults: Faults;
  rng: Rng;
  /** The replicas' API addresses. */
  endpoints: string[];
  /** Scratch directory of the run (replica data and logs). */
  dir: string;
  /** Node agents (scenarios with `agents`, or any run with --orchestration). */
  agents?: ChaosAgents;
  log(s: string): void;
}

export interface ScenarioContext extends RunContext {
  /** performance.now() at which the fault phase ends. */
  readonly deadline: number;
  /** True while the fault phase lasts. */
  active(): boolean;
  sleep(ms: number): Promise<void>;
  /** The leader, waiting up to `timeoutMs` for one (0: none). */
  leader(timeoutMs?: number): Promise<number>;
  /** Wait until there is a leader and every running member has applied its commit index. */
  settle(timeoutMs?: number): Promise<boolean>;
}

/** Load a scenario adds beside the register workload. */
export interface Workload {
  name: string;
  /** Before the fault phase (objects to create, informers to start). */
  setup?(): Promise<void>;
  start(): void;
  /** Stop issuing calls; resolves when the last call returned. */
  stop(): Promise<void>;
  /** Release what it holds (samplers, watches) once the checks ran; also on every exit path. */
  close?(): void | Promise<void>;
  /** Numbers for the report (merged into the JSON line under `workloads.<name>`). */
  summary?(): Record<string, number | string | boolean>;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  summary: string;
  details?: string[];
}

/** A check run after the faults healed and the control plane converged. */
export interface Check {
  name: string;
  run(): Promise<CheckResult>;
}

export interface Scenario {
  name: string;
  description: string;
  /** Fewest replicas the scenario makes sense with (default 3). */
  minReplicas?: number;
  /** Needs per-link delay or loss, which only the proxy isolation has. */
  needsProxy?: boolean;
  /** Runs node agents (bench/chaos/agents.ts) and the orchestration workload beside the replicas. */
  agents?: boolean;
  /** Inject faults until ctx.deadline (the runner heals whatever is left afterwards). */
  run(ctx: ScenarioContext): Promise<void>;
  workloads?(ctx: RunContext): Workload[];
  checks?(ctx: RunContext): Check[];
}
