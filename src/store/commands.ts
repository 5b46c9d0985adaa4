/**
 * Commands: what a proposer puts in a Raft entry for the store to apply.
 *
 * A command is plain data, msgpack-encoded. Everything that could differ between replicas
 * (uids, timestamps) is chosen by the proposer and carried in the command, so every replica
 * applying the same bytes reaches the same state; the store never reads a clock.
 *
 * Decoding is strict about shape (ops, field types) and says what is wrong; it does not
 * validate objects against their kind's schema, which is src/api's job before proposing.
 */
import { Packr } from 'msgpackr';
import { decodeMsgpack } from './decode.ts';
import type { StoredObject } from './types.ts';

export interface Precondition {
  /** Fail with Conflict unless the stored object has this resourceVersion. */
  resourceVersion?: string;
  /** Fail with Conflict unless the stored object has this uid. */
  uid?: string;
  /**
   * Fail with Conflict unless the entry is committed in this Raft term: a decision the
   * leader made in term T cannot commit after it lost leadership (ARCHITECTURE rule 3).
   */
  term?: number;
}

/** Store a new object. `object` is complete: uid (and usually creationTimestamp) chosen by the proposer. */
export interface CreateCommand {
  op: 'create';
  object: StoredObject;
  /** ISO timestamp chosen by the proposer (used for a missing creationTimestamp). */
  now: string;
  /** Only `term` is meaningful for a create. */
  precondition?: Precondition;
}

/**
 * Replace an object's metadata and everything but status. uid, creationTimestamp,
 * generation, resourceVersion, deletionTimestamp and deletionGracePeriodSeconds in
 * `object` are ignored (kept from the stored object). The object's own
 * metadata.resourceVersion is NOT a precondition: pass it in `precondition`.
 */
export interface UpdateCommand {
  op: 'update';
  object: StoredObject;
  precondition?: Precondition;
  now: string;
}

/** Replace an object's status only (the status subresource). */
export interface UpdateStatusCommand {
  op: 'updateStatus';
  object: StoredObject;
  precondition?: Precondition;
  now: string;
  /**
   * Who reported this status, when it is a node's agent reporting its pod: the change's
   * watch event carries it as `origin`, so the agent's assignment stream need not send the
   * agent its own report back.
   */
  reporter?: string;
}

/** Delete an object, or mark it for deletion (finalizers, graceful pod termination). */
export interface DeleteCommand {
  op: 'delete';
  kind: string;
  /** '' (or absent) for cluster-scoped kinds. */
  namespace?: string;
  name: string;
  precondition?: Precondition;
  /** Pods only: 0 removes at once; absent means the pod's terminationGracePeriodSeconds, else 30. */
  gracePeriodSeconds?: number;
  /**
   * Finalizers added as deletion starts, in the same step (propagation policy: `orphan`
   * or `foregroundDeletion`, which the garbage collector then works off).
   */
  addFinalizers?: string[];
  now: string;
}

/** One pod binding: put the pod (this incarnation) on a node. */
export interface PodBinding {
  namespace: string;
  name: string;
  uid: string;
  nodeName: string;
}

/**
 * Bind pods to nodes. Each binding succeeds or fails on its own (result.results, one per
 * binding): the pod must still exist with this uid, be unbound and not being deleted, the
 * node must exist, and the store's binding check (resources, host ports) must pass against
 * the pods already on the node, this entry's earlier bindings included. So no node is ever
 * overcommitted, even when scheduling decisions race.
 */
export interface BindCommand {
  op: 'bind';
  bindings: PodBinding[];
  /** Only `term` is meaningful here. */
  precondition?: Precondition;
  now: string;
}

/**
 * Apply all sub-commands at the entry's index, or none of them. Batches do not nest.
 * With `independent`, each sub-command succeeds or fails on its own (in order, each seeing
 * the ones before it): the batch itself succeeds and `results` says how each one went.
 */
export interface BatchCommand {
  op: 'batch';
  commands: Command[];
  independent?: boolean;
}

/** Changes nothing; advances the applied index. */
export interface NoopCommand {
  op: 'noop';
}

export type Command = CreateCommand | UpdateCommand | UpdateStatusCommand | DeleteCommand | BindCommand | BatchCommand | NoopCommand;

/** The bytes of an entry could not be read as a command. */
export class MalformedCommandError extends Error {
  override name = 'MalformedCommandError';
}

// useRecords: false keeps the encoding plain msgpack (maps and arrays), independent of
// any state in this process, so every replica decodes the same bytes the same way.
const packr = new Packr({ useRecords: false });

/** Encode a command for a Raft entry. Checks the shape first, so a bad command is refused before it is proposed. */
export function encodeCommand(cmd: Command): Uint8Array {
  checkCommand(cmd, 'command', true);
  return packr.pack(cmd);
}

/** Decode and check an entry's bytes. Throws {@link MalformedCommandError} saying what is wrong. */
export function decodeCommand(data: Uint8Array): Command {
  let v: unknown;
  try {
    v = decodeMsgpack(data);
  } catch (err) {
    throw new MalformedCommandError(`command: not valid msgpack: ${(err as Error).message}`);
  }
  checkCommand(v, 'command', true);
  return v;
}

/**
 * Encode/decode plain values the same way commands are encoded (the store's records and
 * snapshots). Decoding goes through decode.ts, which builds compact long-lived values.
 */
export function packValue(v: unknown): Uint8Array {
  return packr.pack(v);
}
export function unpackValue(b: Uint8Array): unknown {
  return decodeMsgpack(b);
}

// ---------------------------------------------------------------------------------------
// Shape checks

function fail(path: string, what: string): never {
  throw new MalformedCommandError(`${path}: ${what}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return 'binary';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function str(o: Record<string, unknown>, k: string, path: string, optional = false): void {
  const v = o[k];
  if (v === undefined && optional) return;
  if (typeof v !== 'string') fail(`${path}.${k}`, `must be a string, got ${describe(v)}`);
}

function checkObject(v: unknown, path: string): void {
  if (!isPlainObject(v)) fail(path, `must be an object, got ${describe(v)}`);
  str(v, 'kind', path);
  if (v.kind === '') fail(`${path}.kind`, 'must not be empty');
  str(v, 'apiVersion', path, true);
  const m = v.metadata;
  if (!isPlainObject(m)) fail(`${path}.metadata`, `must be an object, got ${describe(m)}`);
  str(m, 'name', `${path}.metadata`);
  str(m, 'namespace', `${path}.metadata`, true);
  str(m, 'uid', `${path}.metadata`, true);
  for (const k of ['spec', 'status'] as const) {
    if (v[k] !== undefined && !isPlainObject(v[k])) fail(`${path}.${k}`, `must be an object, got ${describe(v[k])}`);
  }
  if (m.finalizers !== undefined) {
    if (!Array.isArray(m.finalizers) || !m.finalizers.every((f) => typeof f === 'string')) {
      fail(`${path}.metadata.finalizers`, 'must be an array of strings');
    }
  }
}

function checkPrecondition(v: unknown, path: string): void {
  if (v === undefined) return;
  if (!isPlainObject(v)) fail(path, `must be an object, got ${describe(v)}`);
  str(v, 'resourceVersion', path, true);
  str(v, 'uid', path, true);
  const term = v.term;
  if (term !== undefined && (typeof term !== 'number' || !Number.isSafeInteger(term) || term < 0)) {
    fail(`${path}.term`, `must be a non-negative integer, got ${String(term)}`);
  }
}

function checkCommand(v: unknown, path: string, top: boolean): asserts v is Command {
  if (!isPlainObject(v)) fail(path, `must be an object, got ${describe(v)}`);
  const op = v.op;
  switch (op) {
    case 'create':
      checkObject(v.object, `${path}.object`);
      checkPrecondition(v.precondition, `${path}.precondition`);
      str(v, 'now', path);
      return;
    case 'update':
    case 'updateStatus':
      checkObject(v.object, `${path}.object`);
      checkPrecondition(v.precondition, `${path}.precondition`);
      str(v, 'now', path);
      str(v, 'reporter', path, true);
      return;
    case 'delete': {
      str(v, 'kind', path);
      str(v, 'namespace', path, true);
      str(v, 'name', path);
      checkPrecondition(v.precondition, `${path}.precondition`);
      const af = v.addFinalizers;
      if (af !== undefined && (!Array.isArray(af) || !af.every((f) => typeof f === 'string' && f !== ''))) {
        fail(`${path}.addFinalizers`, 'must be an array of non-empty strings');
      }
      const g = v.gracePeriodSeconds;
      if (g !== undefined && (typeof g !== 'number' || !Number.isSafeInteger(g) || g < 0)) {
        fail(`${path}.gracePeriodSeconds`, `must be a non-negative integer, got ${String(g)}`);
      }
      str(v, 'now', path);
      return;
    }
    case 'bind': {
      const bs = v.bindings;
      if (!Array.isArray(bs)) fail(`${path}.bindings`, `must be an array, got ${describe(bs)}`);
      bs.forEach((b, i) => {
        const bp = `${path}.bindings[${i}]`;
        if (!isPlainObject(b)) fail(bp, `must be an object, got ${describe(b)}`);
        for (const k of ['namespace', 'name', 'uid', 'nodeName']) {
          str(b, k, bp);
          if (b[k] === '') fail(`${bp}.${k}`, 'must not be empty');
        }
      });
      checkPrecondition(v.precondition, `${path}.precondition`);
      str(v, 'now', path);
      return;
    }
    case 'batch': {
      if (!top) fail(`${path}.op`, 'a batch cannot contain a batch');
      const cs = v.commands;
      if (!Array.isArray(cs)) fail(`${path}.commands`, `must be an array, got ${describe(cs)}`);
      cs.forEach((c, i) => checkCommand(c, `${path}.commands[${i}]`, false));
      if (v.independent !== undefined && typeof v.independent !== 'boolean') fail(`${path}.independent`, `must be a boolean, got ${describe(v.independent)}`);
      return;
    }
    case 'noop':
      return;
    default:
      fail(`${path}.op`, `unknown op ${JSON.stringify(op)} (want create, update, updateStatus, delete, bind, batch or noop)`);
  }
}
