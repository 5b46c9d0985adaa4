/**
 * What actually runs: the pod processes of the process runtime, found in /proc by the
 * marker every pod of a chaos run carries in its environment (BERTH_CHAOS_RUN=<marker>),
 * with the pod's identity from the downward API (POD_UID, POD_NAMESPACE, POD_NAME,
 * NODE_NAME) and the container's name (CHAOS_CONTAINER). The runtime runs each container
 * under a wrapper that leads its own process group, so one process group is one live
 * container instance.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readProcStat } from '../../src/agent/runtimes/process.ts';

export const MARKER_ENV = 'BERTH_CHAOS_RUN';

export interface PodProcess {
  pgrp: number;
  uid: string;
  namespace: string;
  name: string;
  node: string;
  container: string;
}

interface Seen {
  start: number;
  pgrp: number;
  /** undefined: not one of ours. */
  info: Omit<PodProcess, 'pgrp'> | undefined;
}

/** pid → what its environment said (per start time: pids are reused). */
const cache = new Map<number, Seen>();

function environ(pid: number): Map<string, string> | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  const m = new Map<string, string>();
  for (const kv of raw.split('\0')) {
    const eq = kv.indexOf('=');
    if (eq > 0) m.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return m;
}

/** Every live process group of a pod of this run (one entry per group). */
export function scanPodProcesses(marker: string): PodProcess[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const live = new Set<number>();
  const groups = new Map<number, PodProcess>();
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const pid = Number(n);
    const st = readProcStat(pid);
    if (!st || st.state === 'Z') continue;
    live.add(pid);
    let seen = cache.get(pid);
    if (!seen || seen.start !== st.startTime) {
      const env = environ(pid);
      if (!env) continue;
      const mine = env.get(MARKER_ENV);
      seen = {
        start: st.startTime,
        pgrp: st.pgrp,
        info:
          mine === undefined
            ? undefined
            : {
                uid: env.get('POD_UID') ?? '?',
                namespace: env.get('POD_NAMESPACE') ?? '?',
                name: env.get('POD_NAME') ?? '?',
                node: env.get('NODE_NAME') ?? '?',
                container: env.get('CHAOS_CONTAINER') ?? '?',
              },
      };
      // Other runs' pods are not ours either: only this marker counts.
      if (mine !== undefined && mine !== marker) seen.info = undefined;
      cache.set(pid, seen);
    }
    if (seen.info && !groups.has(seen.pgrp)) groups.set(seen.pgrp, { pgrp: seen.pgrp, ...seen.info });
  }
  for (const pid of cache.keys()) if (!live.has(pid)) cache.delete(pid);
  return [...groups.values()];
}

/** Whether process group `pgrp` still has its leader alive (not a zombie). */
export function groupAlive(pgrp: number): boolean {
  const st = readProcStat(pgrp);
  return Boolean(st && st.state !== 'Z');
}

export function killGroups(groups: number[], sig: NodeJS.Signals): void {
  for (const g of groups) {
    if (!(g > 1)) continue;
    try {
      process.kill(-g, sig);
    } catch {
      // gone already
    }
  }
}
