/** Schemas of Pod specs, containers, volumes and pod status. */

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
} from './schema.ts';
import { condition, labelSelector, localObjectReference, objectMeta } from './schema-meta.ts';

const resourceList = (description: string) => map(qty('A quantity.'), description);

// ---- probes and handlers ----------------------------------------------------------

const execAction = obj('ExecAction', 'Run a command inside the container; exit status 0 is success.', {
  command: strList('Command line to execute; not run in a shell.'),
});

const httpHeader = obj('HTTPHeader', 'A custom HTTP header.', {
  name: str('Header field name.', { required: true }),
  value: str('Header field value.', { required: true }),
});

const httpGetAction = obj('HTTPGetAction', 'An HTTP GET request; a 2xx or 3xx status is success.', {
  path: str('Path to request. Defaults to "/".'),
  port: intOrStr('Port number or named container port.', { required: true }),
  host: str('Host to connect to; defaults to the pod IP.'),
  scheme: str('Scheme for the connection. Defaults to HTTP.', { enum: ['HTTP', 'HTTPS'] }),
  httpHeaders: list(httpHeader, 'Custom headers to send.'),
});

const tcpSocketAction = obj('TCPSocketAction', 'Open a TCP connection; success if it connects.', {
  port: intOrStr('Port number or named container port.', { required: true }),
  host: str('Host to connect to; defaults to the pod IP.'),
});

const grpcAction = obj('GRPCAction', 'A gRPC health check (grpc.health.v1).', {
  port: int('Port number of the gRPC service.', { required: true }),
  service: str('Service name passed in the HealthCheckRequest.'),
});

const sleepAction = obj('SleepAction', 'Sleep for a while.', {
  seconds: int('Seconds to sleep.', { required: true }),
});

const probeFields = {
  exec: execAction,
  httpGet: httpGetAction,
  tcpSocket: tcpSocketAction,
  grpc: grpcAction,
  initialDelaySeconds: int('Seconds after the container starts before the first probe.'),
  timeoutSeconds: int('Seconds after which a probe times out. Defaults to 1.'),
  periodSeconds: int('How often, in seconds, to probe. Defaults to 10.'),
  successThreshold: int('Consecutive successes to count as healthy after a failure. Defaults to 1; must be 1 for liveness and startup.'),
  failureThreshold: int('Consecutive failures to count as failed. Defaults to 3.'),
  terminationGracePeriodSeconds: int('Grace period for stopping the container when this probe fails; overrides the pod value.'),
};

const probe = obj('Probe', 'A health check run by the node agent. Exactly one handler (exec, httpGet, tcpSocket, grpc) must be set.', probeFields);

const lifecycleHandler = obj('LifecycleHandler', 'An action run at a container lifecycle event. Exactly one handler must be set.', {
  exec: execAction,
  httpGet: httpGetAction,
  tcpSocket: tcpSocketAction,
  sleep: sleepAction,
});

const lifecycle = obj('Lifecycle', 'Actions run right after start and right before stop.', {
  postStart: describe(lifecycleHandler, 'Runs right after the container is created.'),
  preStop: describe(lifecycleHandler, 'Runs before the container is stopped.'),
});

// ---- env and resources ------------------------------------------------------------

export const objectFieldSelector = obj('ObjectFieldSelector', 'Selects a field of the pod.', {
  apiVersion: str('Version of the schema the path is written in. Defaults to "v1".'),
  fieldPath: str('Path of the field, e.g. metadata.name or status.podIP.', { required: true }),
});

export const resourceFieldSelector = obj('ResourceFieldSelector', 'Selects a resource request or limit of a container.', {
  containerName: str('Container name; required for volumes.'),
  resource: str('Resource to select, e.g. limits.cpu.', { required: true }),
  divisor: qty('Output unit. Defaults to 1.'),
});

const keySelector = (what: string) =>
  obj(`${what}KeySelector`, `Selects a key of a ${what}.`, {
    name: str(`Name of the ${what}.`, { required: true }),
    key: str('The key to select.', { required: true }),
    optional: bool(`Whether the ${what} or its key may be missing.`),
  });

const envVar = obj('EnvVar', 'An environment variable.', {
  name: str('Variable name.', { required: true }),
  value: str('Literal value; $(VAR) references to earlier variables are expanded.'),
  valueFrom: obj('EnvVarSource', 'Where the value comes from. Exactly one source must be set.', {
    fieldRef: objectFieldSelector,
    resourceFieldRef: resourceFieldSelector,
    configMapKeyRef: keySelector('ConfigMap'),
    secretKeyRef: keySelector('Secret'),
  }),
});

const envFromSource = obj('EnvFromSource', 'Import every key of a ConfigMap or Secret as variables.', {
  prefix: str('Prefix added to each variable name.'),
  configMapRef: obj('ConfigMapEnvSource', 'The ConfigMap to import.', {
    name: str('Name of the ConfigMap.'),
    optional: bool('Whether the ConfigMap may be missing.'),
  }),
  secretRef: obj('SecretEnvSource', 'The Secret to import.', {
    name: str('Name of the Secret.'),
    optional: bool('Whether the Secret may be missing.'),
  }),
});

export const resourceRequirements = obj('ResourceRequirements', 'Compute resources: what is reserved (requests) and the hard cap (limits).', {
  limits: resourceList('Maximum amount of each resource, e.g. cpu: 500m, memory: 128Mi.'),
  requests: resourceList('Amount reserved for scheduling; defaults to the limit when only a limit is given.'),
});

const containerPort = obj('ContainerPort', 'A network port the container listens on.', {
  name: str('IANA service name (at most 15 characters) other objects can refer to.'),
  containerPort: int('Port number on the pod IP (1-65535).', { required: true }),
  hostPort: int('Port number to expose on the node.'),
  hostIP: str('Node IP to bind the host port to.'),
  protocol: str('Protocol: TCP, UDP or SCTP. Defaults to TCP.', { enum: ['SCTP', 'TCP', 'UDP'] }),
});

const volumeMount = obj('VolumeMount', 'Where a volume is mounted in the container.', {
  name: str('Name of a volume of the pod.', { required: true }),
  mountPath: str('Path in the container; must not contain ":".', { required: true }),
  readOnly: bool('Mount read-only.'),
  subPath: str('Path within the volume to mount instead of its root.'),
  subPathExpr: str('Like subPath, with $(VAR) expansion from the environment.'),
  mountPropagation: str('How mounts propagate between host and container.', {
    enum: ['None', 'HostToContainer', 'Bidirectional'],
  }),
});

const capabilities = obj('Capabilities', 'Linux capabilities to add or drop.', {
  add: strList('Capabilities to add.'),
  drop: strList('Capabilities to drop.'),
});

const seccompProfile = obj('SeccompProfile', 'A seccomp profile.', {
  type: str('RuntimeDefault, Unconfined or Localhost.', {
    required: true,
    enum: ['RuntimeDefault', 'Unconfined', 'Localhost'],
  }),
  localhostProfile: str('Profile file on the node, for type Localhost.'),
});

const securityContext = obj('SecurityContext', 'Security options of a container.', {
  privileged: bool('Run as privileged: equivalent to root on the host.'),
  runAsUser: int('UID to run the entrypoint as.'),
  runAsGroup: int('GID to run the entrypoint as.'),
  runAsNonRoot: bool('Refuse to start if the image runs as UID 0.'),
  readOnlyRootFilesystem: bool('Mount the root filesystem read-only.'),
  allowPrivilegeEscalation: bool('Whether a process can gain more privileges than its parent.'),
  capabilities,
  procMount: str('Type of /proc mount.', { enum: ['Default', 'Unmasked'] }),
  seccompProfile,
});

export const container = obj('Container', 'A container to run in the pod.', {
  name: str('Name of the container: a DNS label, unique within the pod.', { required: true }),
  image: str('Container image reference, e.g. nginx:1.27.', { required: true }),
  command: strList("Entrypoint; replaces the image's ENTRYPOINT. Not run in a shell."),
  args: strList("Arguments to the entrypoint; replace the image's CMD."),
  workingDir: str("Working directory; defaults to the image's."),
  ports: list(containerPort, 'Ports the container exposes; informational, but named ports can be referenced.'),
  env: list(envVar, 'Environment variables.'),
  envFrom: list(envFromSource, 'Sources of environment variables; env entries win over these.'),
  resources: resourceRequirements,
  volumeMounts: list(volumeMount, 'Volumes to mount into the filesystem.'),
  livenessProbe: describe(probe, 'Restart the container when this check fails.'),
  readinessProbe: describe(probe, 'Take the pod out of Service endpoints while this check fails.'),
  startupProbe: describe(probe, 'Other probes wait until this check succeeds once.'),
  lifecycle,
  imagePullPolicy: str('When to pull the image: Always if the tag is latest or missing, else IfNotPresent.', {
    enum: ['Always', 'IfNotPresent', 'Never'],
  }),
  securityContext,
  restartPolicy: str('Only for init containers: Always makes it a sidecar that runs alongside the app.', {
    enum: ['Always'],
  }),
  stdin: bool('Allocate a stdin buffer.'),
  stdinOnce: bool('Close stdin after the first attach.'),
  tty: bool('Allocate a TTY.'),
  terminationMessagePath: str('File whose contents become the termination message. Defaults to /dev/termination-log.'),
  terminationMessagePolicy: str('File, or FallbackToLogsOnError to use the log tail. Defaults to File.', {
    enum: ['File', 'FallbackToLogsOnError'],
  }),
});

// ---- volumes --------------------------------------------------------------------

const keyToPath = obj('KeyToPath', 'Maps a key to a file path in the volume.', {
  key: str('The key to project.', { required: true }),
  path: str('Relative file path; may not contain "..".', { required: true }),
  mode: int('File permission bits (0-0777).'),
});

const downwardAPIVolumeFile = obj('DownwardAPIVolumeFile', 'A file holding a pod field or resource value.', {
  path: str('Relative file path.', { required: true }),
  fieldRef: objectFieldSelector,
  resourceFieldRef: resourceFieldSelector,
  mode: int('File permission bits (0-0777).'),
});

export const volume = obj('Volume', 'A named volume. Exactly one source must be set.', {
  name: str('Name of the volume: a DNS label, unique within the pod.', { required: true }),
  emptyDir: obj('EmptyDirVolumeSource', 'An empty directory that lives as long as the pod.', {
    medium: str('Storage medium: "" (node default) or Memory (tmpfs).', { enum: ['', 'Memory', 'HugePages'] }),
    sizeLimit: qty('Maximum size.'),
  }),
  hostPath: obj('HostPathVolumeSource', 'A file or directory of the node.', {
    path: str('Path on the node.', { required: true }),
    type: str('What must exist at the path.', {
      enum: ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'],
    }),
  }),
  configMap: obj('ConfigMapVolumeSource', 'Files from the keys of a ConfigMap.', {
    name: str('Name of the ConfigMap.', { required: true }),
    items: list(keyToPath, 'Keys to project; all keys when empty.'),
    defaultMode: int('File permission bits (0-0777). Defaults to 0644.'),
    optional: bool('Whether the ConfigMap may be missing.'),
  }),
  secret: obj('SecretVolumeSource', 'Files from the keys of a Secret.', {
    secretName: str('Name of the Secret.', { required: true }),
    items: list(keyToPath, 'Keys to project; all keys when empty.'),
    defaultMode: int('File permission bits (0-0777). Defaults to 0644.'),
    optional: bool('Whether the Secret may be missing.'),
  }),
  persistentVolumeClaim: obj('PersistentVolumeClaimVolumeSource', 'A persistent volume claim.', {
    claimName: str('Name of the claim.', { required: true }),
    readOnly: bool('Mount read-only.'),
  }),
  projected: obj('ProjectedVolumeSource', 'Several sources projected into one directory.', {
    sources: list(
      obj('VolumeProjection', 'One projected source. Exactly one must be set.', {
        secret: obj('SecretProjection', 'Keys of a Secret.', {
          name: str('Name of the Secret.'),
          items: list(keyToPath, 'Keys to project.'),
          optional: bool('Whether the Secret may be missing.'),
        }),
        configMap: obj('ConfigMapProjection', 'Keys of a ConfigMap.', {
          name: str('Name of the ConfigMap.'),
          items: list(keyToPath, 'Keys to project.'),
          optional: bool('Whether the ConfigMap may be missing.'),
        }),
        downwardAPI: obj('DownwardAPIProjection', 'Pod fields.', {
          items: list(downwardAPIVolumeFile, 'Files to create.'),
        }),
        serviceAccountToken: obj('ServiceAccountTokenProjection', 'A service account token.', {
          audience: str('Intended audience of the token.'),
          expirationSeconds: int('Requested lifetime of the token.'),
          path: str('Relative file path.', { required: true }),
        }),
      }),
      'Sources to project.',
    ),
    defaultMode: int('File permission bits (0-0777). Defaults to 0644.'),
  }),
  downwardAPI: obj('DownwardAPIVolumeSource', 'Files holding pod fields and resource values.', {
    items: list(downwardAPIVolumeFile, 'Files to create.'),
    defaultMode: int('File permission bits (0-0777). Defaults to 0644.'),
  }),
});

// ---- scheduling -----------------------------------------------------------------

const nodeSelectorRequirement = obj('NodeSelectorRequirement', 'A requirement on a node label (or field).', {
  key: str('The label key.', { required: true }),
  operator: str('How the key relates to the values.', {
    required: true,
    enum: ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'],
  }),
  values: strList('Values; one integer for Gt and Lt, none for Exists and DoesNotExist.'),
});

const nodeSelectorTerm = obj('NodeSelectorTerm', 'Requirements that must all hold (terms are ORed).', {
  matchExpressions: list(nodeSelectorRequirement, 'Requirements on node labels.'),
  matchFields: list(nodeSelectorRequirement, 'Requirements on node fields (metadata.name).'),
});

const podAffinityTerm = obj('PodAffinityTerm', 'Pods matching labelSelector in namespaces, co-located by topologyKey.', {
  labelSelector: describe(labelSelector, 'Which pods the term is about.'),
  namespaceSelector: describe(labelSelector, 'Namespaces to look in, by label.'),
  namespaces: strList("Namespaces to look in; defaults to the pod's own."),
  topologyKey: str('Node label whose value defines "the same place", e.g. topology.kubernetes.io/zone. Required.'),
  matchLabelKeys: strList('Pod label keys whose values are added to labelSelector.'),
  mismatchLabelKeys: strList('Pod label keys whose values must differ.'),
});

const podAffinity = (what: string) =>
  obj(what, `Rules for ${what === 'PodAffinity' ? 'placing near' : 'keeping away from'} other pods.`, {
    requiredDuringSchedulingIgnoredDuringExecution: list(podAffinityTerm, 'Terms that must hold for the pod to be scheduled.'),
    preferredDuringSchedulingIgnoredDuringExecution: list(
      obj('WeightedPodAffinityTerm', 'A preferred term with a weight.', {
        weight: int('Weight 1-100 added to a node score when the term holds.', { required: true }),
        podAffinityTerm: req(podAffinityTerm),
      }),
      'Terms the scheduler prefers.',
    ),
  });

const affinity = obj('Affinity', 'Scheduling constraints relative to nodes and other pods.', {
  nodeAffinity: obj('NodeAffinity', 'Rules for choosing nodes by label.', {
    requiredDuringSchedulingIgnoredDuringExecution: obj('NodeSelector', 'Terms of which at least one must hold.', {
      nodeSelectorTerms: list(nodeSelectorTerm, 'The terms (ORed).'),
    }),
    preferredDuringSchedulingIgnoredDuringExecution: list(
      obj('PreferredSchedulingTerm', 'A preferred term with a weight.', {
        weight: int('Weight 1-100 added to a node score when the term holds.', { required: true }),
        preference: req(nodeSelectorTerm),
      }),
      'Terms the scheduler prefers.',
    ),
  }),
  podAffinity: podAffinity('PodAffinity'),
  podAntiAffinity: podAffinity('PodAntiAffinity'),
});

const toleration = obj('Toleration', 'Allows scheduling onto nodes with a matching taint.', {
  key: str('Taint key; empty with operator Exists matches every taint.'),
  operator: str('Equal (the default) or Exists.', { enum: ['Equal', 'Exists'] }),
  value: str('Taint value for Equal; must be empty for Exists.'),
  effect: str('Taint effect to match; empty matches all effects.', {
    enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute'],
  }),
  tolerationSeconds: int('For NoExecute: how long the pod stays bound after the taint appears.'),
});

const topologySpreadConstraint = obj('TopologySpreadConstraint', 'How to spread matching pods across topology domains.', {
  maxSkew: int('Maximum allowed difference in matching pods between domains.', { required: true }),
  topologyKey: str('Node label whose values are the domains.', { required: true }),
  whenUnsatisfiable: str('DoNotSchedule or ScheduleAnyway.', {
    required: true,
    enum: ['DoNotSchedule', 'ScheduleAnyway'],
  }),
  labelSelector: describe(labelSelector, 'Which pods are counted.'),
  minDomains: int('Minimum number of eligible domains (only with DoNotSchedule).'),
  nodeAffinityPolicy: str('Whether node affinity limits the domains.', { enum: ['Honor', 'Ignore'] }),
  nodeTaintsPolicy: str('Whether node taints limit the domains.', { enum: ['Honor', 'Ignore'] }),
  matchLabelKeys: strList("Pod label keys whose values are added to labelSelector."),
});

const podSecurityContext = obj('PodSecurityContext', 'Security options for all containers of the pod.', {
  runAsUser: int('UID to run entrypoints as.'),
  runAsGroup: int('GID to run entrypoints as.'),
  runAsNonRoot: bool('Refuse to start containers whose image runs as UID 0.'),
  fsGroup: int('Group owning volumes.'),
  supplementalGroups: { type: 'list', items: int('A GID.'), description: 'Extra groups for the first process.' },
  sysctls: list(
    obj('Sysctl', 'A namespaced kernel parameter.', {
      name: str('Parameter name.', { required: true }),
      value: str('Parameter value.', { required: true }),
    }),
    'Kernel parameters to set.',
  ),
  seccompProfile,
});

export const podSpec = obj('PodSpec', 'Desired behavior of a pod.', {
  containers: list(container, 'The containers of the pod. At least one.', { required: true }),
  initContainers: list(container, 'Containers run in order before the app containers; restartPolicy Always makes a sidecar.'),
  volumes: list(volume, 'Volumes containers can mount.'),
  restartPolicy: str('When containers are restarted: Always, OnFailure or Never. Defaults to Always.', {
    enum: ['Always', 'OnFailure', 'Never'],
  }),
  terminationGracePeriodSeconds: int('Seconds between SIGTERM and SIGKILL on deletion. Defaults to 30.'),
  activeDeadlineSeconds: int('Seconds the pod may be active before it is failed.'),
  dnsPolicy: str('DNS configuration. Defaults to ClusterFirst.', {
    enum: ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'],
  }),
  dnsConfig: obj('PodDNSConfig', 'Extra DNS settings.', {
    nameservers: strList('Name server IPs.'),
    searches: strList('Search domains.'),
    options: list(
      obj('PodDNSConfigOption', 'A resolver option.', { name: str('Option name.'), value: str('Option value.') }),
      'Resolver options.',
    ),
  }),
  nodeSelector: strMap('Node labels the node must have.'),
  nodeName: str('Node the pod is bound to; set by the scheduler.'),
  serviceAccountName: str('Service account to run as.'),
  automountServiceAccountToken: bool('Mount the service account token.'),
  hostNetwork: bool("Use the node's network namespace."),
  hostPID: bool("Use the node's PID namespace."),
  hostIPC: bool("Use the node's IPC namespace."),
  shareProcessNamespace: bool('Share one PID namespace among the containers.'),
  securityContext: podSecurityContext,
  imagePullSecrets: list(localObjectReference, 'Secrets holding registry credentials.'),
  hostname: str('Hostname of the pod; defaults to its name.'),
  subdomain: str('Subdomain for the fully qualified hostname.'),
  affinity,
  schedulerName: str('Scheduler that places the pod. Defaults to default-scheduler.'),
  tolerations: list(toleration, 'Taints the pod tolerates.'),
  hostAliases: list(
    obj('HostAlias', 'An /etc/hosts entry.', {
      ip: str('IP address.', { required: true }),
      hostnames: strList('Host names for the IP.'),
    }),
    'Extra /etc/hosts entries.',
  ),
  priorityClassName: str('Name of the priority class.'),
  priority: int('Scheduling priority; higher is more important.'),
  preemptionPolicy: str('Whether the pod may preempt lower-priority pods.', {
    enum: ['PreemptLowerPriority', 'Never'],
  }),
  topologySpreadConstraints: list(topologySpreadConstraint, 'How to spread pods across domains.'),
  enableServiceLinks: bool('Inject Service environment variables.'),
  schedulingGates: list(
    obj('PodSchedulingGate', 'A gate that blocks scheduling while present.', { name: str('Gate name.', { required: true }) }),
    'Gates that must all be removed before the pod is scheduled.',
  ),
});

export const podTemplateSpec = obj('PodTemplateSpec', 'The pod that will be created.', {
  metadata: describe(objectMeta, 'Metadata of the pods created: labels must match the selector.'),
  spec: req(podSpec),
});

// ---- status -------------------------------------------------------------------

const containerState = obj('ContainerState', 'State of a container: exactly one of waiting, running, terminated.', {
  waiting: obj('ContainerStateWaiting', 'Not running yet.', {
    reason: str('Why it is waiting, e.g. ContainerCreating or CrashLoopBackOff.'),
    message: str('Details.'),
  }),
  running: obj('ContainerStateRunning', 'Running.', { startedAt: time('When it started.') }),
  terminated: obj('ContainerStateTerminated', 'Finished.', {
    exitCode: int('Exit status.', { required: true }),
    signal: int('Signal that ended it.'),
    reason: str('Why it ended, e.g. Completed, Error, OOMKilled.'),
    message: str('Details.'),
    startedAt: time('When it started.'),
    finishedAt: time('When it ended.'),
    containerID: str('Runtime id of the container.'),
  }),
});

const containerStatus = obj('ContainerStatus', 'Observed state of one container.', {
  name: str('Container name.', { required: true }),
  state: containerState,
  lastState: describe(containerState, 'State of the previous run.'),
  ready: bool('Whether the readiness probe passes.'),
  restartCount: int('Number of restarts.'),
  image: str('Image the container runs.'),
  imageID: str('Resolved image id.'),
  containerID: str('Runtime id, as <type>://<id>.'),
  started: bool('Whether the startup probe has passed.'),
});

const podIP = obj('PodIP', 'An IP address.', { ip: str('The address.', { required: true }) });

export const podStatus = obj('PodStatus', 'Observed state of a pod.', {
  phase: str('Lifecycle phase.', { enum: ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] }),
  conditions: list(condition, 'PodScheduled, Initialized, ContainersReady, Ready.'),
  message: str('Why the pod is in this state.'),
  reason: str('CamelCase reason, e.g. Evicted.'),
  nominatedNodeName: str('Node the pod may be scheduled to after preemption.'),
  hostIP: str('IP of the node.'),
  hostIPs: list(podIP, 'IPs of the node.'),
  podIP: str('IP of the pod.'),
  podIPs: list(podIP, 'IPs of the pod.'),
  startTime: time('When the node acknowledged the pod.'),
  initContainerStatuses: list(containerStatus, 'Init container states.'),
  containerStatuses: list(containerStatus, 'Container states.'),
  qosClass: str('Quality of service class, from requests and limits.', {
    enum: ['Guaranteed', 'Burstable', 'BestEffort'],
  }),
  observedGeneration: int('Pod generation this status reflects.'),
});
