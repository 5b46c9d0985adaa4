/**
 * A pod's status computed from what the runtime reports, as kubelet computes it:
 * container states (waiting / running / terminated with reason, exit code, times),
 * lastState, restart counts, readiness, the pod phase and the conditions.
 */
import type { Condition, Container, ContainerState, ContainerStatus, Pod, PodPhase, PodStatus } from '../api/index.ts';
import type { ContainerInfo } from './runtimes/types.ts';

/** Kubernetes times are RFC 3339 with whole seconds. */
export function apiTime(ms: number | undefined): string | undefined {
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) return undefined;
  // A status asks for the same few seconds over and over: the last one is kept made.
  const sec = Math.floor(ms / 1000);
  if (sec !== lastApiSecond) {
    lastApiSecond = sec;
    lastApiTime = new Date(sec * 1000).toISOString().replace('.000Z', 'Z');
  }
  return lastApiTime;
}

let lastApiSecond = Number.NaN;
let lastApiTime = '';

export interface Waiting {
  reason: string;
  message?: string;
}

/** Everything known about one container of the pod. */
export interface ContainerView {
  spec: Container;
  init: boolean;
  /** The newest instance (any sandbox) and the one before it. */
  latest?: ContainerInfo;
  previous?: ContainerInfo;
  /** Why it is not running, when the agent knows better than the runtime (pull errors, back-off). */
  waiting?: Waiting;
  /** The latest instance has exited and will be started again. */
  willRestart: boolean;
  ready: boolean;
  started: boolean;
  /** Messages for instances the agent killed (liveness failures, ...), by container id. */
  killMessage?: string;
  previousKillMessage?: string;
  /** Fallback messages (terminationMessagePolicy FallbackToLogsOnError) by container id. */
  logMessage?: (id: string) => string | undefined;
}

function terminatedOf(inst: ContainerInfo, runtimeKind: string, killMessage: string | undefined, logMessage: string | undefined): ContainerState {
  const exitCode = inst.exitCode ?? (inst.state === 'unknown' ? 137 : 0);
  const reason = inst.reason || (exitCode === 0 ? 'Completed' : 'Error');
  const message = inst.message || killMessage || logMessage;
  return {
    terminated: {
      exitCode,
      reason,
      ...(message ? { message } : {}),
      ...(apiTime(inst.startedAt) ? { startedAt: apiTime(inst.startedAt) } : {}),
      ...(apiTime(inst.finishedAt) ? { finishedAt: apiTime(inst.finishedAt) } : {}),
      containerID: `${runtimeKind}://${inst.id}`,
    },
  };
}

export interface StatusContext {
  runtimeKind: string;
  /** No further start will happen (pod finished, or being deleted and stopped). */
  podTerminal: boolean;
  /** The pod has init containers: what has not started yet waits with PodInitializing (kubelet). */
  hasInit: boolean;
}

export function containerStatus(v: ContainerView, ctx: StatusContext): ContainerStatus {
  const inst = v.latest;
  const image = v.spec.image ?? '';
  const s: ContainerStatus = {
    name: v.spec.name,
    state: {},
    ready: false,
    restartCount: inst ? Math.max(0, inst.attempt) : 0,
    image,
    imageID: inst?.imageRef ?? '',
    started: false,
  };
  if (inst) s.containerID = `${ctx.runtimeKind}://${inst.id}`;
  const prevTerminated = v.previous && (v.previous.state === 'exited' || v.previous.state === 'unknown')
    ? terminatedOf(v.previous, ctx.runtimeKind, v.previousKillMessage, v.logMessage?.(v.previous.id))
    : undefined;
  if (!inst) {
    s.state = { waiting: v.waiting ?? { reason: ctx.hasInit ? 'PodInitializing' : 'ContainerCreating' } };
    if (ctx.podTerminal) {
      s.state = {
        terminated: { exitCode: 137, reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated' },
      };
    }
    return s;
  }
  switch (inst.state) {
    case 'running':
      s.state = { running: { ...(apiTime(inst.startedAt) ? { startedAt: apiTime(inst.startedAt) } : {}) } };
      if (prevTerminated) s.lastState = prevTerminated;
      s.ready = v.ready;
      s.started = v.started;
      break;
    case 'created':
      s.state = { waiting: v.waiting ?? { reason: 'ContainerCreating' } };
      if (prevTerminated) s.lastState = prevTerminated;
      break;
    case 'exited':
    case 'unknown': {
      const term = terminatedOf(inst, ctx.runtimeKind, v.killMessage, v.logMessage?.(inst.id));
      if (v.willRestart && !ctx.podTerminal) {
        s.state = { waiting: v.waiting ?? { reason: 'CrashLoopBackOff' } };
        s.lastState = term;
      } else {
        s.state = term;
        if (prevTerminated) s.lastState = prevTerminated;
      }
      break;
    }
  }
  return s;
}

/** Names of the pod's sidecars (init containers with restartPolicy Always). */
export function sidecarNames(pod: Pod): Set<string> {
  return new Set((pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
}

/**
 * Kubelet's getPhase. `terminal` forces Succeeded/Failed (a pod whose containers were all
 * stopped for good); once `initialized`, init containers no longer matter (sidecars never
 * decide the phase: the app containers do).
 */
export function podPhase(pod: Pod, init: ContainerStatus[], app: ContainerStatus[], terminal: boolean, initialized = false): PodPhase {
  const policy = pod.spec.restartPolicy ?? 'Always';
  const sidecars = sidecarNames(pod);
  let pendingInit = 0;
  let failedInit = 0;
  for (const s of initialized ? [] : init) {
    if (sidecars.has(s.name)) {
      if (!s.state?.running) pendingInit++;
      continue;
    }
    const t = s.state?.terminated;
    if (t && t.exitCode === 0) continue;
    if (t) failedInit++;
    else if (s.state?.waiting && s.lastState?.terminated && s.lastState.terminated.exitCode !== 0) failedInit++;
    else pendingInit++;
  }
  if (failedInit > 0 && policy === 'Never') return 'Failed';
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of app) {
    if (s.state?.running) running++;
    else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    } else waiting++;
  }
  if (terminal) {
    // Nothing will run again: success only if every app container finished with 0.
    if (pendingInit + failedInit > 0 && app.every((s) => !s.state?.terminated || s.state.terminated.reason === 'ContainerStatusUnknown')) return 'Failed';
    return app.length > 0 && succeeded === app.length ? 'Succeeded' : 'Failed';
  }
  if (pendingInit > 0 || failedInit > 0) return 'Pending';
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function condition(type: string, ok: boolean, reason?: string, message?: string): Condition {
  return { type, status: ok ? 'True' : 'False', ...(ok || !reason ? {} : { reason }), ...(ok || !message ? {} : { message }) };
}

export function podConditions(phase: PodPhase, init: ContainerStatus[], app: ContainerStatus[], initialized: boolean, sidecars: Set<string> = new Set()): Condition[] {
  const out: Condition[] = [];
  const notInit = init
    .filter((s) => (sidecars.has(s.name) ? !s.started : !(s.state?.terminated && s.state.terminated.exitCode === 0)))
    .map((s) => s.name);
  out.push(condition('Initialized', initialized, 'ContainersNotInitialized', `containers with incomplete status: [${notInit.join(' ')}]`));
  const done = phase === 'Succeeded' || phase === 'Failed';
  // Sidecars count for readiness, as regular containers do.
  const unready = [...init.filter((s) => sidecars.has(s.name)), ...app].filter((s) => !s.ready).map((s) => s.name);
  const ready = !done && unready.length === 0;
  const reason = done ? 'PodCompleted' : 'ContainersNotReady';
  const message = done ? undefined : `containers with unready status: [${unready.join(' ')}]`;
  out.push(condition('Ready', ready, reason, message));
  out.push(condition('ContainersReady', ready, reason, message));
  out.push(condition('PodScheduled', true));
  return out;
}

/** Keeps each condition's lastTransitionTime unless its status changed. */
export function stampConditions(conds: Condition[], previous: Condition[] | undefined, now: string): Condition[] {
  return conds.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    const at = old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now;
    return { ...c, lastTransitionTime: at };
  });
}

export type { PodStatus };
