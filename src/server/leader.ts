/**
 * The leader-only manager (ARCHITECTURE rule 4): once this replica leads and has
 * committed an entry of its own term, it starts the scheduler and the controllers with a
 * Cluster whose every write carries that term; when leadership is lost the signal aborts
 * and they stop at once. A write of theirs still in flight then fails its term
 * precondition instead of committing a decision made by a deposed leader.
 */
import type { Controller, ClusterConfig, ControllerContext, EventRecorder, LivenessSource, Logger, UsageSource } from '../controllers/types.ts';
import { wallClock } from '../controllers/clock.ts';
import type { ObjectStore } from '../store/index.ts';
import { ApiCluster } from './cluster-adapter.ts';
import type { ObjectsApi } from './objects.ts';

export interface LeaderManagerDeps {
  api: ObjectsApi;
  store: ObjectStore;
  config: ClusterConfig;
  log: Logger;
  usage: UsageSource;
  liveness: LivenessSource;
  /** The components to run, made fresh for each leadership. */
  components: () => Controller[];
  /** The event recorder for one leadership (started and stopped with it). */
  events: (ctx: Omit<ControllerContext, 'events'>) => EventRecorder & { start?(signal: AbortSignal): void };
}

/**
 * Start every component for a leadership decided in `term`. Returns when they are
 * started; they run until `signal` aborts.
 */
export function startLeaderComponents(deps: LeaderManagerDeps, term: number, signal: AbortSignal): void {
  if (signal.aborted) return;
  const cluster = new ApiCluster({ api: deps.api, store: deps.store, term });
  const base = { cluster, clock: wallClock, config: deps.config, log: deps.log, usage: deps.usage, liveness: deps.liveness, signal };
  const events = deps.events(base);
  events.start?.(signal);
  const ctx: ControllerContext = { ...base, events };
  for (const c of deps.components()) {
    try {
      c.start(ctx);
    } catch (e) {
      // One broken component must not keep the others from running.
      deps.log.error(`leader: ${c.name} failed to start: ${(e as Error).message}`);
    }
  }
  deps.log.info(`leader: started ${term === 0 ? '' : `in term ${term}: `}scheduler and controllers`);
}
