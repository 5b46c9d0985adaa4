/**
 * The Cluster view's data: every replica's own Cluster.Status, asked of each endpoint in
 * turn (so an unreachable replica shows as such, with the error), merged the way
 * `berth cluster status` merges them, plus how long each answer took. Polled on a timer:
 * every second while the view is open, less often for the header's leader and term.
 */
import type { ClusterStatus } from '../client/client.ts';
import { mergeStatuses, type MemberRow } from '../cli/commands/cluster.ts';
import type { Timers } from './clock.ts';
import type { Tone } from './rows.ts';

export interface StatusClient {
  readonly endpoints: string[];
  status(endpoint?: number): Promise<ClusterStatus>;
}

export interface EndpointHealth {
  endpoint: string;
  ok: boolean;
  /** Round trip of the Status call. */
  ms: number;
  error?: string;
}

export interface ClusterSnapshot {
  leader: number;
  term: number;
  leaderEndpoint: string;
  members: MemberRow[];
  health: EndpointHealth[];
  /** The raw answers by replica id (the `y` key). */
  statuses: Map<number, ClusterStatus>;
  at: number;
}

export const CLUSTER_HEADERS = ['ID', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LAG', 'LEADER', 'API ADDRESS', 'PEER ADDRESS', 'RPC'];

/** Asks every endpoint once. Never rejects: failures are part of the snapshot. */
export async function pollCluster(client: StatusClient, now: () => number, clock: () => number = () => performance.now()): Promise<ClusterSnapshot> {
  const results = await Promise.all(
    client.endpoints.map(async (endpoint, i): Promise<{ health: EndpointHealth; status?: ClusterStatus }> => {
      const t = clock();
      try {
        const status = await client.status(i);
        return { health: { endpoint, ok: true, ms: clock() - t }, status };
      } catch (e) {
        return { health: { endpoint, ok: false, ms: clock() - t, error: (e as Error).message } };
      }
    }),
  );
  const answers = results.flatMap((r, i) => (r.status ? [{ endpoint: client.endpoints[i]!, status: r.status }] : []));
  const merged = mergeStatuses(answers);
  const statuses = new Map(answers.map((a) => [a.status.id, a.status]));
  // The leader's own endpoint when it answered, else what the others say it is.
  const leaderEndpoint = answers.find((a) => a.status.id === merged.leader)?.endpoint ?? answers.find((a) => a.status.leader === merged.leader)?.status.leader_api_address ?? '';
  return { leader: merged.leader, term: merged.term, leaderEndpoint, members: merged.members, health: results.map((r) => r.health), statuses, at: now() };
}

export interface ClusterRow {
  id: number;
  cells: string[];
  tone: Tone;
}

export function clusterRows(s: ClusterSnapshot | undefined): ClusterRow[] {
  if (!s) return [];
  const dash = (v: number | undefined) => (v === undefined ? '-' : String(v));
  // A replica that did not answer is known by its API address from the others' view.
  const addressOf = (id: number) => [...s.statuses.values()].flatMap((st) => st.members).find((x) => x.id === id)?.api_address ?? '';
  return s.members.map((m) => {
    const api = m.apiAddress || addressOf(m.id);
    const h = s.health.find((x) => x.endpoint === api);
    const rpc = !h ? 'not among the endpoints' : h.ok ? `ok ${Math.max(0, Math.round(h.ms))}ms` : `down: ${h.error ?? ''}`;
    const tone: Tone = !m.reachable ? 'error' : m.id === s.leader ? 'ok' : m.lag !== undefined && m.lag > 100 ? 'warn' : 'normal';
    return {
      id: m.id,
      cells: [String(m.id), m.role, dash(m.term), dash(m.commit), dash(m.applied), dash(m.lag), m.id === s.leader ? '*' : '', api || '-', m.peerAddress || '-', rpc],
      tone,
    };
  });
}

/**
 * Polls on a timer, one poll at a time (a replica that hangs delays the next poll rather
 * than piling calls up).
 */
export class ClusterPoller {
  snapshot: ClusterSnapshot | undefined;
  private timer: unknown;
  private inFlight = false;
  private stopped = false;

  constructor(
    private readonly client: StatusClient,
    private readonly timers: Timers,
    private readonly onSnapshot: (s: ClusterSnapshot) => void,
    /** Milliseconds between polls; may change (the view opened or closed). */
    public intervalMs: number,
  ) {}

  start(): void {
    this.stopped = false;
    this.poll();
  }

  /** Poll now (the view was just opened, or a transfer was requested). */
  now(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.poll();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private poll(): void {
    if (this.stopped || this.inFlight) return;
    this.inFlight = true;
    void pollCluster(this.client, () => this.timers.now()).then((s) => {
      this.inFlight = false;
      if (this.stopped) return;
      this.snapshot = s;
      this.onSnapshot(s);
      this.timer = this.timers.setTimeout(() => {
        this.timer = undefined;
        this.poll();
      }, this.intervalMs);
    });
  }
}
