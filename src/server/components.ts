/**
 * The leader's components, made fresh for each leadership: the scheduler and every
 * controller. One list, so `berth server` and the tests run the same set.
 */
import { CronJobController } from '../controllers/cronjob.ts';
import { DeploymentController } from '../controllers/deployment/controller.ts';
import { EndpointsController } from '../controllers/endpoints.ts';
import { GarbageCollector } from '../controllers/gc.ts';
import { HorizontalPodAutoscalerController } from '../controllers/hpa.ts';
import { JobController } from '../controllers/job.ts';
import { NamespaceController } from '../controllers/namespace.ts';
import { NodeLifecycleController } from '../controllers/node-lifecycle.ts';
import { ReplicaSetController } from '../controllers/replicaset.ts';
import type { Controller } from '../controllers/types.ts';
import { Scheduler } from '../scheduler/scheduler.ts';

export function leaderComponents(): Controller[] {
  return [
    new Scheduler(),
    new ReplicaSetController(),
    new DeploymentController(),
    new JobController(),
    new CronJobController(),
    new EndpointsController(),
    new HorizontalPodAutoscalerController(),
    new NodeLifecycleController(),
    new GarbageCollector(),
    new NamespaceController(),
  ];
}
