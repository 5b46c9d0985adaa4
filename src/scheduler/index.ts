/**
 * berth's scheduler: filter and score plugins over a node-info cache, a priority queue
 * with back-off, preemption, and batched bindings. See README.md for the design.
 */
export { Scheduler, SCHEDULER_NAMES, type SchedulerOptions, type SchedulerStats } from './scheduler.ts';
export { bindingFits, REASON_PORTS } from './fit.ts';
export { unschedulableMessage, NO_NODES_MESSAGE } from './message.ts';
export { Framework, Diagnosis, numFeasibleNodesToFind, seededRandom, SKIP, MAX_NODE_SCORE, type ClusterView, type FilterPlugin, type ScorePlugin, type FilterResult } from './framework.ts';
export { SchedulerCache } from './cache.ts';
export { SchedulingQueue, QueuedPod } from './queue.ts';
export { NodeInfo } from './node-info.ts';
export { PodInfo } from './pod-info.ts';
export { defaultPlugins, type PluginSet } from './plugins/index.ts';
export { podRequests, nodeAllocatable, type PodRequests, type Allocatable } from './resources.ts';
