/** The schema of every kind berth serves, by apiVersion and kind. */

import {
  bool,
  describe,
  int,
  intOrStr,
  list,
  map,
  obj,
  qty,
  req,
  str,
  strList,
  strMap,
  time,
  type FieldSchema,
} from './schema.ts';
import { condition, labelSelector, objectMeta, objectReference, topLevel } from './schema-meta.ts';
import { podSpec, podStatus, podTemplateSpec } from './schema-pod.ts';

const resourceList = (description: string) => map(qty('A quantity.'), description);

function kindSchema(kindName: string, description: string, fields: Record<string, FieldSchema>): FieldSchema {
  return obj(kindName, description, { ...topLevel(kindName), ...fields });
}

// ---- Pod -----------------------------------------------------------------------

const pod = kindSchema('Pod', 'A group of containers scheduled together onto one node, sharing network and volumes.', {
  spec: describe(podSpec, 'Desired behavior of the pod.'),
  status: podStatus,
});

// ---- Deployment and ReplicaSet ---------------------------------------------------

const deploymentSpec = obj('DeploymentSpec', 'Desired state of a Deployment.', {
  replicas: int('Number of desired pods. Defaults to 1.'),
  selector: req(describe(labelSelector, 'Label selector for the pods; must match the template labels. Immutable.')),
  template: req(describe(podTemplateSpec, 'The pods to run.')),
  strategy: obj('DeploymentStrategy', 'How old pods are replaced by new ones.', {
    type: str('Recreate or RollingUpdate. Defaults to RollingUpdate.', { enum: ['Recreate', 'RollingUpdate'] }),
    rollingUpdate: obj('RollingUpdateDeployment', 'Bounds of a rolling update.', {
      maxUnavailable: intOrStr('Pods that may be unavailable during the update: a number or percentage. Defaults to 25%.'),
      maxSurge: intOrStr('Pods that may be created above the desired number: a number or percentage. Defaults to 25%.'),
    }),
  }),
  minReadySeconds: int('Seconds a new pod must be ready before it counts as available.'),
  revisionHistoryLimit: int('Old ReplicaSets to keep for rollback. Defaults to 10.'),
  paused: bool('Pause rollouts.'),
  progressDeadlineSeconds: int('Seconds before a stalled rollout is reported as failed. Defaults to 600.'),
});

const deploymentStatus = obj('DeploymentStatus', 'Observed state of a Deployment.', {
  observedGeneration: int('Generation observed by the controller.'),
  replicas: int('Pods targeted by the Deployment.'),
  updatedReplicas: int('Pods with the current template.'),
  readyReplicas: int('Ready pods.'),
  availableReplicas: int('Pods ready for at least minReadySeconds.'),
  unavailableReplicas: int('Pods still needed for full availability.'),
  terminatingReplicas: int('Pods being terminated.'),
  conditions: list(condition, 'Available, Progressing, ReplicaFailure.'),
  collisionCount: int('Template hash collisions seen.'),
});

const deployment = kindSchema('Deployment', 'Declarative updates for pods through ReplicaSets.', {
  spec: deploymentSpec,
  status: deploymentStatus,
});

const replicaSet = kindSchema('ReplicaSet', 'Keeps a number of identical pods running.', {
  spec: obj('ReplicaSetSpec', 'Desired state of a ReplicaSet.', {
    replicas: int('Number of desired pods. Defaults to 1.'),
    minReadySeconds: int('Seconds a new pod must be ready before it counts as available.'),
    selector: req(describe(labelSelector, 'Label selector for the pods; must match the template labels.')),
    template: req(describe(podTemplateSpec, 'The pods to run.')),
  }),
  status: obj('ReplicaSetStatus', 'Observed state of a ReplicaSet.', {
    replicas: int('Current number of pods.'),
    fullyLabeledReplicas: int('Pods whose labels match the template.'),
    readyReplicas: int('Ready pods.'),
    availableReplicas: int('Pods ready for at least minReadySeconds.'),
    terminatingReplicas: int('Pods being terminated.'),
    observedGeneration: int('Generation observed by the controller.'),
    conditions: list(condition, 'Conditions.'),
  }),
});

// ---- Job and CronJob -----------------------------------------------------------

const podFailurePolicy = obj('PodFailurePolicy', 'How pod failures count against the backoff limit.', {
  rules: list(
    obj('PodFailurePolicyRule', 'A rule; the first matching one applies.', {
      action: str('What to do when the rule matches.', { required: true, enum: ['FailJob', 'FailIndex', 'Ignore', 'Count'] }),
      onExitCodes: obj('PodFailurePolicyOnExitCodesRequirement', 'Match on container exit codes.', {
        containerName: str('Restrict to one container.'),
        operator: str('In or NotIn.', { required: true, enum: ['In', 'NotIn'] }),
        values: { type: 'list', items: int('An exit code.'), description: 'Exit codes, sorted, without duplicates.' },
      }),
      onPodConditions: list(
        obj('PodFailurePolicyOnPodConditionsPattern', 'Match on a pod condition.', {
          type: str('Condition type, e.g. DisruptionTarget.', { required: true }),
          status: str('Condition status. Defaults to True.', { enum: ['True', 'False', 'Unknown'] }),
        }),
        'Pod conditions to match.',
      ),
    }),
    'The rules.',
    { required: true },
  ),
});

const jobSpec = obj('JobSpec', 'Desired state of a Job.', {
  parallelism: int('Maximum pods running at once. Defaults to 1.'),
  completions: int('Successful pods needed; unset means any one success (work queue). Defaults to 1.'),
  activeDeadlineSeconds: int('Seconds the Job may run before it is failed.'),
  backoffLimit: int('Retries before the Job is failed. Defaults to 6.'),
  backoffLimitPerIndex: int('Retries per index of an Indexed Job.'),
  maxFailedIndexes: int('Failed indexes tolerated before the Job fails (with backoffLimitPerIndex).'),
  ttlSecondsAfterFinished: int('Seconds after finishing before the Job is deleted.'),
  completionMode: str('NonIndexed, or Indexed to give each pod a completion index. Defaults to NonIndexed.', {
    enum: ['NonIndexed', 'Indexed'],
  }),
  suspend: bool('Do not create pods while true. Defaults to false.'),
  podFailurePolicy,
  podReplacementPolicy: str('When replacement pods are created.', { enum: ['TerminatingOrFailed', 'Failed'] }),
  selector: describe(labelSelector, 'Label selector for the pods; generated by the controller unless manualSelector.'),
  manualSelector: bool('Use the given selector instead of a generated one.'),
  template: req(describe(podTemplateSpec, 'The pods to run; restartPolicy must be Never or OnFailure.')),
});

const jobStatus = obj('JobStatus', 'Observed state of a Job.', {
  conditions: list(condition, 'Complete, Failed, Suspended, ...'),
  startTime: time('When the Job started.'),
  completionTime: time('When the Job completed.'),
  active: int('Running pods.'),
  succeeded: int('Succeeded pods.'),
  failed: int('Failed pods.'),
  terminating: int('Terminating pods.'),
  ready: int('Ready pods.'),
  completedIndexes: str('Completed indexes, e.g. "1,3-5".'),
  failedIndexes: str('Failed indexes.'),
  uncountedTerminatedPods: obj('UncountedTerminatedPods', 'Finished pods not yet counted.', {
    succeeded: strList('UIDs of succeeded pods.'),
    failed: strList('UIDs of failed pods.'),
  }),
});

const job = kindSchema('Job', 'Runs pods until a number of them complete successfully.', {
  spec: jobSpec,
  status: jobStatus,
});

const cronJob = kindSchema('CronJob', 'Creates Jobs on a cron schedule.', {
  spec: obj('CronJobSpec', 'Desired state of a CronJob.', {
    schedule: str('Cron schedule: 5 fields (minute hour day-of-month month day-of-week) or @hourly, @daily, ...', {
      required: true,
    }),
    timeZone: str('IANA time zone of the schedule, e.g. Europe/Paris. Defaults to UTC in berth.'),
    startingDeadlineSeconds: int('Seconds after a missed start during which the Job may still start.'),
    concurrencyPolicy: str('Allow, Forbid or Replace concurrent Jobs. Defaults to Allow.', {
      enum: ['Allow', 'Forbid', 'Replace'],
    }),
    suspend: bool('Do not start new Jobs while true. Defaults to false.'),
    jobTemplate: req(
      obj('JobTemplateSpec', 'The Job to create.', {
        metadata: describe(objectMeta, 'Metadata of the Jobs created.'),
        spec: req(jobSpec),
      }),
    ),
    successfulJobsHistoryLimit: int('Finished successful Jobs to keep. Defaults to 3.'),
    failedJobsHistoryLimit: int('Failed Jobs to keep. Defaults to 1.'),
  }),
  status: obj('CronJobStatus', 'Observed state of a CronJob.', {
    active: list(objectReference, 'Running Jobs.'),
    lastScheduleTime: time('When a Job was last scheduled.'),
    lastSuccessfulTime: time('When a Job last completed successfully.'),
  }),
});

// ---- Service and Endpoints -------------------------------------------------------

const protocol = (d: string) => str(d, { enum: ['SCTP', 'TCP', 'UDP'] });

const service = kindSchema('Service', 'A stable virtual IP and DNS name for a set of pods.', {
  spec: obj('ServiceSpec', 'Desired behavior of a Service.', {
    type: str('ClusterIP, NodePort, LoadBalancer or ExternalName. Defaults to ClusterIP.', {
      enum: ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'],
    }),
    selector: strMap('Pods with these labels receive the traffic.'),
    ports: list(
      obj('ServicePort', 'A port the Service exposes.', {
        name: str('Port name: a DNS label; required when there are several ports.'),
        protocol: protocol('TCP, UDP or SCTP. Defaults to TCP.'),
        appProtocol: str('Application protocol hint, e.g. http or kubernetes.io/h2c.'),
        port: int('Port exposed by the Service.', { required: true }),
        targetPort: intOrStr('Port number or named container port on the pods. Defaults to port.'),
        nodePort: int('Port on every node, for NodePort and LoadBalancer Services.'),
      }),
      'Ports the Service exposes.',
    ),
    clusterIP: str('Virtual IP; "None" makes a headless Service. Assigned when empty.'),
    clusterIPs: strList('Virtual IPs, one per family; the first equals clusterIP.'),
    ipFamilies: { type: 'list', items: str('IPv4 or IPv6.', { enum: ['IPv4', 'IPv6'] }), description: 'IP families of the Service.' },
    ipFamilyPolicy: str('SingleStack, PreferDualStack or RequireDualStack.', {
      enum: ['SingleStack', 'PreferDualStack', 'RequireDualStack'],
    }),
    externalIPs: strList('Extra IPs that route to the Service.'),
    externalName: str('DNS name returned as a CNAME, for ExternalName Services.'),
    sessionAffinity: str('None or ClientIP. Defaults to None.', { enum: ['ClientIP', 'None'] }),
    sessionAffinityConfig: obj('SessionAffinityConfig', 'Session affinity settings.', {
      clientIP: obj('ClientIPConfig', 'ClientIP affinity settings.', {
        timeoutSeconds: int('Seconds a session sticks. Defaults to 10800.'),
      }),
    }),
    publishNotReadyAddresses: bool('Include not-ready pods in the endpoints.'),
    externalTrafficPolicy: str('Cluster or Local routing of external traffic.', { enum: ['Cluster', 'Local'] }),
    internalTrafficPolicy: str('Cluster or Local routing of internal traffic.', { enum: ['Cluster', 'Local'] }),
    loadBalancerIP: str('Requested load balancer IP (deprecated).'),
    loadBalancerSourceRanges: strList('Client CIDRs allowed through the load balancer.'),
    allocateLoadBalancerNodePorts: bool('Allocate node ports for LoadBalancer Services.'),
    healthCheckNodePort: int('Node port for health checks of Local traffic policy.'),
  }),
  status: obj('ServiceStatus', 'Observed state of a Service.', {
    loadBalancer: obj('LoadBalancerStatus', 'Load balancer state.', {
      ingress: list(
        obj('LoadBalancerIngress', 'An ingress point.', { ip: str('IP address.'), hostname: str('Host name.') }),
        'Ingress points.',
      ),
    }),
    conditions: list(condition, 'Conditions.'),
  }),
});

const endpointAddress = obj('EndpointAddress', 'One backend address.', {
  ip: str('IP of the backend.', { required: true }),
  hostname: str('Hostname of the backend.'),
  nodeName: str('Node hosting the backend.'),
  targetRef: describe(objectReference, 'The object (usually a Pod) behind the address.'),
});

const endpoints = kindSchema('Endpoints', 'The addresses that implement a Service.', {
  subsets: list(
    obj('EndpointSubset', 'Addresses sharing the same ports.', {
      addresses: list(endpointAddress, 'Ready addresses.'),
      notReadyAddresses: list(endpointAddress, 'Addresses not ready yet.'),
      ports: list(
        obj('EndpointPort', 'A port of the addresses.', {
          name: str('Port name, matching the Service port name.'),
          port: int('Port number.', { required: true }),
          protocol: protocol('TCP, UDP or SCTP. Defaults to TCP.'),
          appProtocol: str('Application protocol hint.'),
        }),
        'Ports of the addresses.',
      ),
    }),
    'Groups of addresses with their ports.',
  ),
});

// ---- ConfigMap and Secret -------------------------------------------------------

const configMap = kindSchema('ConfigMap', 'Non-secret configuration as key/value pairs.', {
  data: strMap('UTF-8 values by key.'),
  binaryData: strMap('Base64-encoded binary values by key.'),
  immutable: bool('If true, data cannot be changed after creation.'),
});

const secret = kindSchema('Secret', 'Sensitive data as key/value pairs.', {
  data: strMap('Base64-encoded values by key.'),
  stringData: strMap('Plain-text values by key, merged into data on write. Write-only.'),
  type: str('Type of the secret, e.g. Opaque or kubernetes.io/tls. Defaults to Opaque.'),
  immutable: bool('If true, data cannot be changed after creation.'),
});

// ---- Namespace and Node -----------------------------------------------------------

const namespace = kindSchema('Namespace', 'A scope for names; deleting it deletes everything in it.', {
  spec: obj('NamespaceSpec', 'Desired state of a Namespace.', {
    finalizers: strList('Finalizers that must run before the namespace is removed.'),
  }),
  status: obj('NamespaceStatus', 'Observed state of a Namespace.', {
    phase: str('Active or Terminating.', { enum: ['Active', 'Terminating'] }),
    conditions: list(condition, 'Conditions.'),
  }),
});

const taint = obj('Taint', 'Repels pods that do not tolerate it.', {
  key: str('Taint key.', { required: true }),
  value: str('Taint value.'),
  effect: str('NoSchedule, PreferNoSchedule or NoExecute.', {
    required: true,
    enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute'],
  }),
  timeAdded: time('When a NoExecute taint was added.'),
});

const node = kindSchema('Node', 'A machine that runs pods.', {
  spec: obj('NodeSpec', 'Desired state of a Node.', {
    podCIDR: str('Pod IP range of the node.'),
    podCIDRs: strList('Pod IP ranges, one per family.'),
    providerID: str('Id of the node at its provider.'),
    unschedulable: bool('Keep new pods off this node (cordon).'),
    taints: list(taint, 'Taints of the node.'),
  }),
  status: obj('NodeStatus', 'Observed state of a Node.', {
    capacity: resourceList('Total resources of the node.'),
    allocatable: resourceList('Resources available to pods. Defaults to capacity.'),
    phase: str('Deprecated.'),
    conditions: list(condition, 'Ready, MemoryPressure, DiskPressure, PIDPressure, ...'),
    addresses: list(
      obj('NodeAddress', 'An address of the node.', {
        type: str('Address type.', {
          required: true,
          enum: ['Hostname', 'InternalIP', 'ExternalIP', 'InternalDNS', 'ExternalDNS'],
        }),
        address: str('The address.', { required: true }),
      }),
      'Addresses of the node.',
    ),
    daemonEndpoints: obj('NodeDaemonEndpoints', 'Ports of the node agent.', {
      kubeletEndpoint: obj('DaemonEndpoint', 'The agent endpoint.', { Port: int('Port number.', { required: true }) }),
    }),
    nodeInfo: obj('NodeSystemInfo', 'Facts about the machine.', {
      machineID: str('Machine id.'),
      systemUUID: str('System UUID.'),
      bootID: str('Boot id.'),
      kernelVersion: str('Kernel version.'),
      osImage: str('OS image.'),
      containerRuntimeVersion: str('Container runtime and version.'),
      kubeletVersion: str('Node agent version.'),
      kubeProxyVersion: str('Deprecated.'),
      operatingSystem: str('Operating system, e.g. linux.'),
      architecture: str('CPU architecture, e.g. amd64.'),
    }),
    images: list(
      obj('ContainerImage', 'An image on the node.', {
        names: strList('Names of the image.'),
        sizeBytes: int('Size in bytes.'),
      }),
      'Images on the node.',
    ),
  }),
});

// ---- HorizontalPodAutoscaler ------------------------------------------------------

const crossVersionObjectReference = obj('CrossVersionObjectReference', 'The object to scale.', {
  kind: str('Kind of the target, e.g. Deployment.', { required: true }),
  name: str('Name of the target.', { required: true }),
  apiVersion: str('API version of the target.'),
});

const metricTarget = obj('MetricTarget', 'The target value of a metric.', {
  type: str('Utilization, Value or AverageValue.', { required: true }),
  value: qty('Target value of the metric.'),
  averageValue: qty('Target value averaged over pods.'),
  averageUtilization: int('Target percentage of the requested resource, averaged over pods.'),
});

const metricIdentifier = obj('MetricIdentifier', 'A metric by name.', {
  name: str('Metric name.', { required: true }),
  selector: describe(labelSelector, 'Narrows the metric by label.'),
});

const metricSpec = obj('MetricSpec', 'A metric to scale on. Exactly the source named by type must be set.', {
  type: str('Resource, ContainerResource, Pods, Object or External.', { required: true }),
  resource: obj('ResourceMetricSource', 'A resource metric (cpu, memory) of the pods.', {
    name: str('Resource name.', { required: true }),
    target: req(metricTarget),
  }),
  containerResource: obj('ContainerResourceMetricSource', 'A resource metric of one container of the pods.', {
    name: str('Resource name.', { required: true }),
    container: str('Container name.', { required: true }),
    target: req(metricTarget),
  }),
  pods: obj('PodsMetricSource', 'A custom metric averaged over the pods.', {
    metric: req(metricIdentifier),
    target: req(metricTarget),
  }),
  object: obj('ObjectMetricSource', 'A metric of another object.', {
    describedObject: req(crossVersionObjectReference),
    metric: req(metricIdentifier),
    target: req(metricTarget),
  }),
  external: obj('ExternalMetricSource', 'A metric from outside the cluster.', {
    metric: req(metricIdentifier),
    target: req(metricTarget),
  }),
});

const scalingRules = (d: string) =>
  obj('HPAScalingRules', d, {
    stabilizationWindowSeconds: int('Seconds of past recommendations considered (0-3600).'),
    selectPolicy: str('Max, Min or Disabled. Defaults to Max.', { enum: ['Max', 'Min', 'Disabled'] }),
    policies: list(
      obj('HPAScalingPolicy', 'A limit on change per period.', {
        type: str('Pods or Percent.', { required: true, enum: ['Pods', 'Percent'] }),
        value: int('Amount of change allowed.', { required: true }),
        periodSeconds: int('Window of the policy in seconds (1-1800).', { required: true }),
      }),
      'Policies.',
    ),
    tolerance: qty('Minimum relative change that triggers scaling.'),
  });

const metricValueStatus = obj('MetricValueStatus', 'Current value of a metric.', {
  value: qty('Current value.'),
  averageValue: qty('Current value averaged over pods.'),
  averageUtilization: int('Current percentage of the request, averaged over pods.'),
});

const metricStatus = obj('MetricStatus', 'Current value of one metric.', {
  type: str('Metric source type.', { required: true }),
  resource: obj('ResourceMetricStatus', 'Resource metric.', { name: str('Resource name.'), current: metricValueStatus }),
  containerResource: obj('ContainerResourceMetricStatus', 'Container resource metric.', {
    name: str('Resource name.'),
    container: str('Container name.'),
    current: metricValueStatus,
  }),
  pods: obj('PodsMetricStatus', 'Pods metric.', { metric: metricIdentifier, current: metricValueStatus }),
  object: obj('ObjectMetricStatus', 'Object metric.', {
    describedObject: crossVersionObjectReference,
    metric: metricIdentifier,
    current: metricValueStatus,
  }),
  external: obj('ExternalMetricStatus', 'External metric.', { metric: metricIdentifier, current: metricValueStatus }),
});

const hpaV2 = kindSchema('HorizontalPodAutoscaler', 'Scales a workload between min and max replicas to meet metric targets.', {
  spec: obj('HorizontalPodAutoscalerSpec', 'Desired behavior of the autoscaler.', {
    scaleTargetRef: req(crossVersionObjectReference),
    minReplicas: int('Lower bound of replicas. Defaults to 1.'),
    maxReplicas: int('Upper bound of replicas; at least minReplicas.', { required: true }),
    metrics: list(metricSpec, 'Metrics to scale on. Defaults to 80% average cpu utilization.'),
    behavior: obj('HorizontalPodAutoscalerBehavior', 'How fast to scale up and down.', {
      scaleUp: scalingRules('Rules for scaling up.'),
      scaleDown: scalingRules('Rules for scaling down.'),
    }),
  }),
  status: obj('HorizontalPodAutoscalerStatus', 'Observed state of the autoscaler.', {
    observedGeneration: int('Generation observed.'),
    lastScaleTime: time('When the target was last scaled.'),
    currentReplicas: int('Current replicas of the target.'),
    desiredReplicas: int('Desired replicas of the target.'),
    currentMetrics: list(metricStatus, 'Last read values of the metrics.'),
    conditions: list(condition, 'AbleToScale, ScalingActive, ScalingLimited.'),
  }),
});

const hpaV1 = kindSchema('HorizontalPodAutoscaler', 'Scales a workload on cpu utilization (autoscaling/v1; stored as v2).', {
  spec: obj('HorizontalPodAutoscalerSpec', 'Desired behavior of the autoscaler.', {
    scaleTargetRef: req(crossVersionObjectReference),
    minReplicas: int('Lower bound of replicas. Defaults to 1.'),
    maxReplicas: int('Upper bound of replicas.', { required: true }),
    targetCPUUtilizationPercentage: int('Target average cpu utilization, percent of request. Defaults to 80.'),
  }),
  status: obj('HorizontalPodAutoscalerStatus', 'Observed state of the autoscaler.', {
    observedGeneration: int('Generation observed.'),
    lastScaleTime: time('When the target was last scaled.'),
    currentReplicas: int('Current replicas.'),
    desiredReplicas: int('Desired replicas.'),
    currentCPUUtilizationPercentage: int('Current average cpu utilization.'),
  }),
});

// ---- Event -----------------------------------------------------------------------

const event = kindSchema('Event', 'A report of something that happened to an object.', {
  involvedObject: req(describe(objectReference, 'The object this event is about.')),
  reason: str('Short CamelCase reason, e.g. Scheduled or BackOff.'),
  message: str('Human-readable description.'),
  source: obj('EventSource', 'The component that reported the event.', {
    component: str('Reporting component, e.g. default-scheduler.'),
    host: str('Node name of the reporter.'),
  }),
  firstTimestamp: time('When the event was first recorded.'),
  lastTimestamp: time('When the event was last recorded.'),
  count: int('How many times it occurred.'),
  type: str('Normal or Warning.', { enum: ['Normal', 'Warning'] }),
  eventTime: time('When the event was first observed (microseconds).'),
  series: obj('EventSeries', 'A series of repeated occurrences.', {
    count: int('Occurrences so far.'),
    lastObservedTime: time('Time of the last occurrence.'),
  }),
  action: str('What action was taken or failed.'),
  related: describe(objectReference, 'A secondary object.'),
  reportingComponent: str('Controller that emitted the event.'),
  reportingInstance: str('Instance of that controller.'),
});

// ---- registry -------------------------------------------------------------------

const SCHEMAS: ReadonlyMap<string, FieldSchema> = new Map([
  ['v1/Pod', pod],
  ['apps/v1/Deployment', deployment],
  ['apps/v1/ReplicaSet', replicaSet],
  ['batch/v1/Job', job],
  ['batch/v1/CronJob', cronJob],
  ['v1/Service', service],
  ['v1/Endpoints', endpoints],
  ['v1/ConfigMap', configMap],
  ['v1/Secret', secret],
  ['v1/Namespace', namespace],
  ['v1/Node', node],
  ['autoscaling/v2/HorizontalPodAutoscaler', hpaV2],
  ['autoscaling/v1/HorizontalPodAutoscaler', hpaV1],
  ['v1/Event', event],
]);

/** The schema of a kind at an apiVersion, or undefined when berth does not serve the pair. */
export function schemaFor(apiVersion: string, kindName: string): FieldSchema | undefined {
  return SCHEMAS.get(`${apiVersion}/${kindName}`);
}
