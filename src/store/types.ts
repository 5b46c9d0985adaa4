/**
 * The shapes the object store deals in. They are deliberately loose: the store holds every
 * kind (Pod, Deployment, ConfigMap, Secret, ...) and knows only the parts of an object that
 * its own rules need (identity, metadata bookkeeping, spec vs status). The typed views of
 * each kind live in src/api; the store never imports them.
 */

/** A JSON value as it travels inside berth (msgpack in the log and LevelDB, JSON over gRPC). */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue | undefined;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Kubernetes ObjectMeta, the fields the store reads or writes, plus anything else. */
export interface ObjectMeta {
  name: string;
  /** Absent on cluster-scoped kinds (the store removes it). */
  namespace?: string;
  uid?: string;
  /** The Raft index of the entry that last changed the object, as a decimal string. */
  resourceVersion?: string;
  /** Starts at 1; +1 for each spec change and when deletion is first requested. */
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  generateName?: string;
  [key: string]: unknown;
}

/**
 * An API object as the store keeps it. Objects handed out by the store are deep-frozen:
 * callers copy before changing anything ("never modify objects from the store").
 */
export interface StoredObject {
  apiVersion?: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: JsonObject;
  status?: JsonObject;
  /** Other top-level fields: data, stringData, type, subsets, encryptedData, ... */
  [key: string]: unknown;
}

/** What the store must know about a kind; injected (the lead wires it to the API registry). */
export interface KindInfo {
  /** Lower-case plural used in messages, e.g. "configmaps". */
  plural: string;
  namespaced: boolean;
}

export type KindInfoFn = (kind: string) => KindInfo | undefined;

/** Why a command did not apply. Mirrors Kubernetes' StatusReason values. */
export type FailureCode = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Invalid' | 'Gone';

/**
 * The outcome of one command. Expected outcomes are values, never exceptions.
 *
 * - create / update / updateStatus / delete: `object` is the object as stored now (for a
 *   removal: its last state, stamped with the removing entry's resourceVersion), `prev`
 *   what was stored before (absent for create).
 * - `removed` is true when the object left the store (delete, or an update that emptied
 *   the finalizers of an object being deleted).
 * - `unchanged` is true when nothing was written (an update identical to what is stored,
 *   or a repeated delete of an object already being deleted); `object` then keeps its old
 *   resourceVersion, as Kubernetes does.
 * - batch: `results` holds one result per sub-command.
 * - noop: no fields besides `ok`.
 */
export interface Success {
  ok: true;
  object?: StoredObject;
  prev?: StoredObject;
  removed?: boolean;
  unchanged?: boolean;
  results?: Result[];
}

export interface Failure {
  ok: false;
  code: FailureCode;
  message: string;
  /**
   * Batch only: one result per sub-command. Sub-commands reported ok were rolled back with
   * the rest; `failed` lists the positions of those that failed.
   */
  results?: Result[];
  failed?: number[];
}

export type Result = Success | Failure;

/** A change the store made, as kept in the watch history. */
export interface ChangeEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** The new state; for DELETED the last state stamped with the deleting entry's index. */
  object: StoredObject;
  /** The state before (absent for ADDED). */
  prev?: StoredObject;
  /** The Raft index of the entry that made the change. */
  rv: number;
  kind: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  /** Who reported the change, when its command said so (UpdateStatusCommand.reporter). */
  origin?: string;
}
