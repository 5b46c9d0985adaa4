/**
 * Waiting for objects to get where they should, with live progress: `rollout status`,
 * `apply --wait`, `delete --wait`, `drain`.
 *
 * On a terminal the progress is one line redrawn in place (a spinner, a bar, counters,
 * the elapsed time); elsewhere every change of the status message is one line, as
 * kubectl prints them ("Waiting for deployment "web" rollout to finish: 1 of 3 updated
 * replicas are available..."). The status of each kind is computed by a pure function
 * of the object, as kubectl's status viewers do.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import { ApiCallError, type BerthClient, type PlainObject } from '../../client/client.ts';
import type { KindInfo } from '../../api/index.ts';
import { painter, type Painter } from './color.ts';
import { podSummary } from './columns.ts';
import { humanDuration } from './age.ts';

type Obj = Record<string, unknown>;

function rec(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? (v as unknown[]).map(rec) : [];
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function nameOf(o: Obj): string {
  return String(rec(o.metadata).name ?? '');
}

function condition(o: Obj, type: string): Obj | undefined {
  return arr(rec(o.status).conditions).find((c) => c.type === type);
}

/** Where an object stands: still waiting (with a message), done, or failed for a reason. */
export interface WaitState {
  done: boolean;
  /** Set when the object cannot get there: the reason, as the error to print. */
  failed?: string;
  /** The line printed while waiting, or the success line once done. */
  message: string;
  /** For the bar: how far along, of how many. */
  progress?: { current: number; total: number; unit: string };
}

// ---- status of each kind -------------------------------------------------------------------

/** kubectl's deployment status viewer (`rollout status`), message for message. */
export function deploymentStatus(d: PlainObject, revision = 0): WaitState {
  const o = d as Obj;
  const name = nameOf(o);
  const meta = rec(o.metadata);
  const spec = rec(o.spec);
  const st = rec(o.status);
  if (revision > 0) {
    const current = Number(rec(meta.annotations)['deployment.kubernetes.io/revision'] ?? 0);
    if (current !== revision) {
      return { done: false, failed: `desired revision (${revision}) is different from the running revision (${current})`, message: '' };
    }
  }
  const desired = spec.replicas === undefined ? 1 : num(spec.replicas);
  const updated = num(st.updatedReplicas);
  const available = num(st.availableReplicas);
  const replicas = num(st.replicas);
  const progress = { current: Math.min(available, updated), total: desired, unit: 'available' };
  if (num(meta.generation) <= num(st.observedGeneration)) {
    const progressing = condition(o, 'Progressing');
    if (progressing && progressing.reason === 'ProgressDeadlineExceeded') {
      return { done: false, failed: `deployment "${name}" exceeded its progress deadline`, message: '', progress };
    }
    if (updated < desired) {
      return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${desired} new replicas have been updated...`, progress: { current: updated, total: desired, unit: 'updated' } };
    }
    if (replicas > updated) {
      return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${replicas - updated} old replicas are pending termination...`, progress };
    }
    if (available < updated) {
      return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${available} of ${updated} updated replicas are available...`, progress };
    }
    return { done: true, message: `deployment "${name}" successfully rolled out`, progress };
  }
  return { done: false, message: 'Waiting for deployment spec update to be observed...', progress };
}

/** A Job: complete, failed (with its condition's reason and message), or running. */
export function jobStatus(j: PlainObject): WaitState {
  const o = j as Obj;
  const name = nameOf(o);
  const spec = rec(o.spec);
  const st = rec(o.status);
  const completions = spec.completions === undefined || spec.completions === null ? 1 : num(spec.completions);
  const succeeded = num(st.succeeded);
  const progress = { current: succeeded, total: completions, unit: 'succeeded' };
  const failed = condition(o, 'Failed');
  if (failed && failed.status === 'True') {
    const why = [failed.reason, failed.message].filter((x) => typeof x === 'string' && x !== '').join(': ');
    return { done: false, failed: `job "${name}" failed${why ? `: ${why}` : ''}`, message: '', progress };
  }
  const complete = condition(o, 'Complete');
  if (complete && complete.status === 'True') return { done: true, message: `job.batch/${name} condition met`, progress };
  const parts = [`${succeeded}/${completions} succeeded`];
  if (num(st.active) > 0) parts.push(`${num(st.active)} active`);
  if (num(st.failed) > 0) parts.push(`${num(st.failed)} failed`);
  return { done: false, message: `Waiting for job "${name}" to complete: ${parts.join(', ')}...`, progress };
}

/** A Pod: Ready (or Succeeded), Failed, or waiting with the STATUS kubectl would show. */
export function podStatus(p: PlainObject, now: number): WaitState {
  const o = p as Obj;
  const name = nameOf(o);
  const st = rec(o.status);
  const summary = podSummary(o, now);
  const [ready, total] = summary.ready.split('/').map(Number) as [number, number];
  const progress = { current: ready, total, unit: 'ready' };
  if (st.phase === 'Succeeded') return { done: true, message: `pod/${name} condition met`, progress };
  if (st.phase === 'Failed') {
    const why = [st.reason, st.message].filter((x) => typeof x === 'string' && x !== '').join(': ') || summary.status;
    return { done: false, failed: `pod "${name}" failed: ${why}`, message: '', progress };
  }
  const readyCond = condition(o, 'Ready');
  if (readyCond && readyCond.status === 'True') return { done: true, message: `pod/${name} condition met`, progress };
  return { done: false, message: `Waiting for pod "${name}" to be ready: ${summary.status} (${summary.ready} containers ready)...`, progress };
}

/** The status function for a kind, when it has one. */
export function statusFor(kind: string, revision = 0): ((o: PlainObject, now: number) => WaitState) | undefined {
  switch (kind) {
    case 'Deployment':
      return (o) => deploymentStatus(o, revision);
    case 'Job':
      return (o) => jobStatus(o);
    case 'Pod':
      return (o, now) => podStatus(o, now);
    default:
      return undefined;
  }
}

// ---- rendering -----------------------------------------------------------------------------

export interface ProgressOut {
  write(s: string): void;
  /** Redraw in place (a terminal)? */
  tty: boolean;
  /** Terminal width, to keep the redrawn line on one row. */
  columns?: number;
  color?: boolean;
  now?: () => number;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const BAR_WIDTH = 20;

/** A bar of `width` cells, `current` of `total` full. */
export function bar(current: number, total: number, width = BAR_WIDTH): string {
  const fraction = total <= 0 ? 1 : Math.max(0, Math.min(1, current / total));
  const full = Math.round(fraction * width);
  return `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
}

/** Cuts a line to `max` printed characters (colour sequences kept whole). */
function fit(line: string, max: number): string {
  let out = '';
  let visible = 0;
  for (let i = 0; i < line.length; ) {
    if (line[i] === '\u001b') {
      const m = /^\u001b\[[0-9;]*[A-Za-z]/.exec(line.slice(i));
      if (m) {
        out += m[0];
        i += m[0].length;
        continue;
      }
    }
    const cp = line.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (visible >= max) break;
    out += ch;
    visible++;
    i += ch.length;
  }
  return out;
}

/**
 * One waiting task's progress. `update` with each new state; `done`/`fail` print the last
 * line. On a terminal the line is redrawn (and its spinner turns) until then.
 */
export class Progress {
  private last = '';
  private state: WaitState | undefined;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly started: number;
  private readonly paint: Painter;
  private drawn = false;

  constructor(
    private readonly out: ProgressOut,
    private readonly label: string,
  ) {
    this.started = (out.now ?? Date.now)();
    this.paint = painter(Boolean(out.color && out.tty));
    if (out.tty) {
      this.timer = setInterval(() => {
        this.frame++;
        this.draw();
      }, 120);
      this.timer.unref();
    }
  }

  update(state: WaitState): void {
    this.state = state;
    if (this.out.tty) this.draw();
    else if (state.message && state.message !== this.last && !state.done) {
      this.out.write(`${state.message}\n`);
    }
    if (state.message) this.last = state.message;
  }

  private draw(): void {
    const s = this.state;
    if (!s) return;
    const p = this.paint;
    const elapsed = humanDuration((this.out.now ?? Date.now)() - this.started);
    const pieces = [p.yellow(SPINNER[this.frame % SPINNER.length]!), p.bold(this.label)];
    if (s.progress) pieces.push(p.green(bar(s.progress.current, s.progress.total)), `${s.progress.current}/${s.progress.total} ${s.progress.unit}`);
    pieces.push(p.dim(elapsed));
    const detail = s.message.replace(/^Waiting for [^:]*: /, '').replace(/\.\.\.$/, '');
    if (detail && !s.done) pieces.push(p.dim(detail));
    const line = fit(pieces.join(' '), Math.max(20, (this.out.columns ?? 80) - 1));
    this.out.write(`\r\u001b[2K${line}`);
    this.drawn = true;
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.out.tty && this.drawn) this.out.write('\r\u001b[2K');
  }

  /** Success: the final line (on a terminal with a check mark). */
  done(message: string): void {
    this.stop();
    this.out.write(this.out.tty ? `${this.paint.green('✓')} ${message}\n` : `${message}\n`);
  }

  /** Clears a terminal's progress line (the caller prints the error). */
  fail(): void {
    this.stop();
  }
}

// ---- waiting -------------------------------------------------------------------------------

export class WaitTimeout extends Error {
  override name = 'WaitTimeout';
  constructor(readonly last: WaitState | undefined) {
    super('timed out waiting for the condition');
  }
}

export class WaitFailed extends Error {
  override name = 'WaitFailed';
}

export interface WaitOptions {
  client: BerthClient;
  info: KindInfo;
  namespace: string;
  name: string;
  evaluate: (o: PlainObject, now: number) => WaitState;
  /** Called with every new state (the Progress). */
  onState: (s: WaitState) => void;
  /** 0 or undefined: no limit. */
  timeoutMs?: number;
  now?: () => number;
  /** Stop at the first state, done or not (`rollout status --watch=false`). */
  once?: boolean;
}

/**
 * Watches one object until `evaluate` says it is done (resolves with that state), it fails
 * (WaitFailed), it is deleted (the API's NotFound), or the time is up (WaitTimeout). The
 * watch is re-established from a fresh read when its stream breaks.
 */
export function waitForObject(o: WaitOptions): Promise<WaitState> {
  const now = o.now ?? Date.now;
  return new Promise<WaitState>((resolve, reject) => {
    let last: WaitState | undefined;
    let finished = false;
    let cancel: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | undefined, state?: WaitState) => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      cancel?.();
      if (err) reject(err);
      else resolve(state!);
    };
    const consider = (obj: PlainObject): boolean => {
      const s = o.evaluate(obj, now());
      last = s;
      if (s.failed) {
        finish(new WaitFailed(s.failed));
        return true;
      }
      o.onState(s);
      if (s.done || o.once) {
        finish(undefined, s);
        return true;
      }
      return false;
    };
    if (o.timeoutMs && o.timeoutMs > 0) timer = setTimeout(() => finish(new WaitTimeout(last)), o.timeoutMs);
    const start = async (attempt: number) => {
      if (finished) return;
      let obj: PlainObject;
      try {
        obj = await o.client.get(o.info.plural, o.namespace, o.name);
      } catch (e) {
        if (e instanceof ApiCallError && e.code === grpcStatus.UNAVAILABLE && attempt < 20) {
          setTimeout(() => void start(attempt + 1), 250);
          return;
        }
        finish(e as Error);
        return;
      }
      if (finished || consider(obj)) return;
      const rv = String(rec(obj.metadata).resourceVersion ?? '');
      cancel = o.client.watch(
        o.info.plural,
        { namespace: o.namespace, fieldSelector: `metadata.name=${o.name}`, resourceVersion: rv },
        (ev) => {
          if (finished || !ev.object || ev.type === 'BOOKMARK') return;
          if (ev.type === 'DELETED') {
            finish(new ApiCallError(grpcStatus.NOT_FOUND, `${o.info.plural} "${o.name}" not found`));
            return;
          }
          consider(ev.object);
        },
        (err) => {
          if (finished) return;
          // The stream ended (a replica went away, or the watch window passed): start again.
          setTimeout(() => void start(err ? attempt + 1 : 0), err ? 250 : 0);
        },
      );
    };
    void start(0);
  });
}

/**
 * Waits for one object with a Progress: prints the final line on success; throws
 * WaitFailed / WaitTimeout / ApiCallError otherwise (after clearing the progress line).
 */
export async function waitWithProgress(
  out: ProgressOut,
  label: string,
  o: Omit<WaitOptions, 'onState'>,
): Promise<WaitState> {
  const progress = new Progress(out, label);
  try {
    const s = await waitForObject({ ...o, onState: (st) => progress.update(st) });
    if (s.done) progress.done(s.message);
    else progress.fail();
    return s;
  } catch (e) {
    progress.fail();
    throw e;
  }
}

/** Waits until an object is gone (NotFound). Resolves false on timeout. */
export async function waitForDeletion(client: BerthClient, info: KindInfo, namespace: string, name: string, deadline: number, uid?: string): Promise<boolean> {
  for (;;) {
    try {
      const o = await client.get(info.plural, namespace, name);
      // A new object of the same name is not the one that was deleted.
      if (uid && rec(o.metadata).uid !== uid) return true;
    } catch (e) {
      if (e instanceof ApiCallError && e.code === grpcStatus.NOT_FOUND) return true;
      if (!(e instanceof ApiCallError && e.code === grpcStatus.UNAVAILABLE)) throw e;
    }
    if (deadline > 0 && Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}
