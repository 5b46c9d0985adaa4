/**
 * The Containers view: one row per container of a pod (init containers first, marked),
 * with its image, readiness, state and restarts, as k9s shows them.
 */
import type { PlainObject } from '../client/client.ts';
import { humanDuration, parseTime } from '../cli/output/age.ts';
import type { Tone } from './rows.ts';
import type { Obj } from './store.ts';

export interface ContainerRow {
  name: string;
  init: boolean;
  cells: string[];
  tone: Tone;
}

export const CONTAINER_HEADERS = ['NAME', 'INIT', 'IMAGE', 'READY', 'STATE', 'RESTARTS', 'AGE'];

const rec = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as unknown[]).map(rec) : []);

/** `Running`, `Waiting: ContainerCreating`, `Terminated: Error (exit 1)`. */
export function containerState(status: Obj | undefined): { text: string; since: unknown; tone: Tone } {
  const state = rec(status?.state);
  if (state.running !== undefined) return { text: 'Running', since: rec(state.running).startedAt, tone: status?.ready === true ? 'ok' : 'warn' };
  if (state.terminated !== undefined) {
    const t = rec(state.terminated);
    const code = typeof t.exitCode === 'number' ? t.exitCode : 0;
    return { text: `Terminated: ${String(t.reason ?? (code === 0 ? 'Completed' : 'Error'))} (exit ${code})`, since: t.finishedAt, tone: code === 0 ? 'dim' : 'error' };
  }
  if (state.waiting !== undefined) {
    const reason = String(rec(state.waiting).reason ?? 'Waiting');
    return { text: `Waiting: ${reason}`, since: undefined, tone: /BackOff|Err|Invalid/.test(reason) ? 'error' : 'warn' };
  }
  return { text: 'Pending', since: undefined, tone: 'warn' };
}

export function containerRows(pod: PlainObject | undefined, now: number): ContainerRow[] {
  if (!pod) return [];
  const spec = rec(pod.spec);
  const status = rec(pod.status);
  const rows: ContainerRow[] = [];
  const add = (specs: Obj[], statuses: Obj[], init: boolean) => {
    for (const c of specs) {
      const name = String(c.name ?? '');
      const st = statuses.find((s) => s.name === name);
      const state = containerState(st);
      const since = parseTime(state.since);
      rows.push({
        name,
        init,
        cells: [name, init ? 'true' : 'false', String(c.image ?? ''), st?.ready === true ? 'true' : 'false', state.text, String(st?.restartCount ?? 0), since === undefined ? '-' : humanDuration(now - since)],
        tone: state.tone,
      });
    }
  };
  add(list(spec.initContainers), list(status.initContainerStatuses), true);
  add(list(spec.containers), list(status.containerStatuses), false);
  return rows;
}
