/**
 * Version conversion. berth stores HorizontalPodAutoscalers as autoscaling/v2
 * and accepts autoscaling/v1 manifests, converting them the way Kubernetes
 * does: `targetCPUUtilizationPercentage` becomes a Resource cpu metric with a
 * Utilization target.
 */

import type { ApiObject, HorizontalPodAutoscaler, MetricSpec, MetricStatus } from './types.ts';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Converts an autoscaling/v1 HPA (any shape; unknown fields are kept) to autoscaling/v2. */
export function hpaV1ToV2(obj: ApiObject): ApiObject {
  const out: ApiObject = { ...obj, apiVersion: 'autoscaling/v2' };
  if (isObject(obj.spec)) {
    const { targetCPUUtilizationPercentage, ...rest } = obj.spec;
    const spec: Record<string, unknown> = { ...rest };
    if (targetCPUUtilizationPercentage !== undefined && targetCPUUtilizationPercentage !== null) {
      const metric: MetricSpec = {
        type: 'Resource',
        resource: {
          name: 'cpu',
          target: { type: 'Utilization', averageUtilization: targetCPUUtilizationPercentage as number },
        },
      };
      spec.metrics = [metric];
    }
    out.spec = spec;
  }
  if (isObject(obj.status)) {
    const { currentCPUUtilizationPercentage, ...rest } = obj.status;
    const status: Record<string, unknown> = { ...rest };
    if (typeof currentCPUUtilizationPercentage === 'number') {
      const current: MetricStatus = {
        type: 'Resource',
        resource: { name: 'cpu', current: { averageUtilization: currentCPUUtilizationPercentage } },
      };
      status.currentMetrics = [current];
    }
    out.status = status;
  }
  return out;
}

/**
 * Converts an autoscaling/v2 HPA to the v1 form for clients that ask for it.
 * Only a cpu Resource Utilization metric survives, as in Kubernetes.
 */
export function hpaV2ToV1(hpa: HorizontalPodAutoscaler): ApiObject {
  const { metrics, behavior: _behavior, ...rest } = hpa.spec;
  const cpu = metrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu' && m.resource.target.type === 'Utilization');
  const spec: Record<string, unknown> = { ...rest };
  if (cpu?.resource?.target.averageUtilization !== undefined) {
    spec.targetCPUUtilizationPercentage = cpu.resource.target.averageUtilization;
  }
  const out: ApiObject = { ...hpa, apiVersion: 'autoscaling/v1', spec };
  if (hpa.status) {
    const { currentMetrics, conditions: _conditions, ...statusRest } = hpa.status;
    const status: Record<string, unknown> = { ...statusRest };
    const current = currentMetrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
    if (current?.resource?.current.averageUtilization !== undefined) {
      status.currentCPUUtilizationPercentage = current.resource.current.averageUtilization;
    }
    out.status = status;
  }
  return out;
}

/**
 * Brings an object to the version berth stores: autoscaling/v1 HPAs become
 * autoscaling/v2; everything else is returned as is. Never mutates the input.
 */
export function toStorageVersion(obj: ApiObject): ApiObject {
  if (obj.kind === 'HorizontalPodAutoscaler' && obj.apiVersion === 'autoscaling/v1') return hpaV1ToV2(obj);
  return obj;
}
