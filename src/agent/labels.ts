/**
 * Labels and annotations the agent puts on what it asks a runtime to create. They are how a
 * restarted agent finds (and adopts) the sandboxes and containers it started before, and how
 * it tells them apart from anything else the runtime runs.
 */

export const LABEL_POD_UID = 'berth.io/pod-uid';
export const LABEL_POD_NAME = 'berth.io/pod-name';
export const LABEL_POD_NAMESPACE = 'berth.io/pod-namespace';
export const LABEL_CONTAINER_NAME = 'berth.io/container-name';
/** The node (agent) that owns a sandbox: agents sharing a runtime never touch each other's. */
export const LABEL_NODE = 'berth.io/node';

/** Hash of the container's spec: a changed spec (e.g. a new image) restarts the container. */
export const ANN_CONTAINER_HASH = 'berth.io/container-hash';
export const ANN_RESTART_COUNT = 'berth.io/restart-count';
/** "init" for init containers, "app" for the others. */
export const ANN_CONTAINER_TYPE = 'berth.io/container-type';
/** Grace period the pod had when the container was created (used when killing an orphan). */
export const ANN_GRACE_PERIOD = 'berth.io/termination-grace-period';

export function isOurs(labels: Record<string, string> | undefined, node: string): boolean {
  return Boolean(labels && labels[LABEL_POD_UID] && labels[LABEL_NODE] === node);
}
