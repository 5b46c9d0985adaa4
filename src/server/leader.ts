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
 * Start every component for a leadership decided in `term`, one per turn of the event
 * loop: each lists and indexes what it needs from the store (with 10,000 pods the
 * scheduler, the garbage collector and the ReplicaSet controller take 100-300 ms each),
 * and all of them in one turn would hold a new leader's event loop for a second, long
 * enough to miss its Raft heartbeats and lose the leadership it is starting up for.
 * Each component's own list-then-watch stays synchronous. They run until `signal` aborts;
 * one not yet started when it does is never started.
 */
export function startLeaderComponents(deps: LeaderManagerDeps, term: number, signal: AbortSignal): void {
  if (signal.aborted) return;
  const cluster = new ApiCluster({ api: deps.api, store: deps.store, term });
  const base = { cluster, clock: wallClock, config: deps.config, log: deps.log, usage: deps.usage, liveness: deps.liveness, signal };
  const events = deps.events(base);
  events.start?.(signal);
  const ctx: ControllerContext = { ...base, events };
  const pending = deps.components();
  const next = (): void => {
    if (signal.aborted) return;
    const c = pending.shift();
    if (!c) {
      deps.log.info(`leader: started ${term === 0 ? '' : `in term ${term}: `}scheduler and controllers`);
      return;
    }
    try {
      c.start(ctx);
    } catch (e) {
      // One broken component must not keep the others from running.
      deps.log.error(`leader: ${c.name} failed to start: ${(e as Error).message}`);
    }
    setImmediate(next);
  };
  next();
}
