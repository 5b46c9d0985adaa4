/**
 * What the register workload records: one entry per call, with its invocation and
 * completion time on this process's monotonic clock (performance.now(), ms).
 */

export type OpKind = 'read' | 'write' | 'cas';

/**
 * - ok: completed; `value`/`rv` are what it read or wrote.
 * - fail: a compare-and-set refused because the resourceVersion did not match (ABORTED):
 *   an observation that the version was not `expect` when it was applied.
 * - unknown: the outcome is indeterminate (timeout, connection lost mid-call, "outcome is
 *   unknown"): a write may have taken effect at any point after its invocation, or never.
 * - error: certainly had no effect and observed nothing (a failed read, a write refused
 *   before it was sent or by validation). Ignored by the checker.
 */
export type OpStatus = 'ok' | 'fail' | 'unknown' | 'error';

export interface Op {
  id: number;
  /** Which actor issued it (a workload client, a probe, or the final reader). */
  client: string;
  key: string;
  kind: OpKind;
  /** Invocation time (ms). */
  call: number;
  /** Completion time (ms); undefined when the outcome is unknown. */
  ret?: number;
  status: OpStatus;
  /** write/cas: the value written (unique per write); read: the value read (null: absent). */
  value?: string | null;
  /** ok read: the resourceVersion read; ok write/cas: the resourceVersion it created. */
  rv?: number;
  /** cas: the resourceVersion it was conditional on. */
  expect?: number;
  /** The error, for failed or indeterminate calls. */
  error?: string;
}

/** The value and resourceVersion of a key. */
export interface RegisterState {
  value: string | null;
  rv: number;
}

/**
 * A change seen by some observer other than a client call (a watch event): `key` had
 * `value` at `rv` no later than `at`.
 */
export interface Observation {
  key: string;
  value: string | null;
  rv: number;
  at: number;
}

/** Records operations; ids are assigned in invocation order. */
export class History {
  readonly ops: Op[] = [];
  private seq = 0;

  /** Record an invocation; complete it later through the returned op. */
  begin(client: string, key: string, kind: OpKind, fields: { value?: string | null; expect?: number } = {}): Op {
    const op: Op = { id: this.seq++, client, key, kind, call: performance.now(), status: 'unknown', ...fields };
    this.ops.push(op);
    return op;
  }

  static complete(op: Op, status: Exclude<OpStatus, 'unknown'>, fields: { value?: string | null; rv?: number; error?: string } = {}): void {
    op.ret = performance.now();
    op.status = status;
    Object.assign(op, fields);
  }

  static indeterminate(op: Op, error: string): void {
    op.ret = undefined;
    op.status = 'unknown';
    op.error = error;
  }
}

export function describeOp(op: Op, t0 = 0): string {
  const span = `[${(op.call - t0).toFixed(1).padStart(9)} .. ${op.ret === undefined ? '        ∞' : (op.ret - t0).toFixed(1).padStart(9)}]`;
  let what: string;
  switch (op.kind) {
    case 'read':
      what = 'read';
      break;
    case 'write':
      what = `write ${JSON.stringify(op.value)}`;
      break;
    case 'cas':
      what = `cas rv=${op.expect} -> ${JSON.stringify(op.value)}`;
      break;
  }
  let out: string;
  if (op.status === 'ok') out = op.kind === 'read' ? `${JSON.stringify(op.value)} rv=${op.rv}` : `ok rv=${op.rv}`;
  else if (op.status === 'fail') out = 'conflict (version did not match)';
  else if (op.status === 'unknown') out = `outcome unknown${op.rv !== undefined ? ` (observed at rv=${op.rv})` : ''}`;
  else out = `error: ${op.error ?? ''}`;
  return `${span} ${op.client.padEnd(6)} #${String(op.id).padEnd(6)} ${what.padEnd(40)} -> ${out}`;
}
