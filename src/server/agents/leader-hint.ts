/**
 * Where the leader's API is, for calls only the leader serves (Heartbeat, ReportStatus,
 * Top): a follower answers UNAVAILABLE with trailer `berth-leader` = the leader's API
 * address (host:port) and `berth-leader-id` = its replica id, so an agent goes straight
 * to the leader.
 *
 * A replica knows other members' Raft peer addresses (--peers, and conf changes), not
 * their API addresses. These come from, in order:
 *  1. `apiPeers` (berth server --api-peers id=host:port,...; the local clusters that
 *     `berth up` and the tests start pass it);
 *  2. otherwise, when the leader runs on another host than this replica, that host
 *     with this replica's own API port (one replica per host, same --listen port: the
 *     usual deployment).
 * When neither applies the trailer is empty and the agent tries its other endpoints.
 */
import { status } from '@grpc/grpc-js';
import type { NodeId, Replica } from '../../raft/index.ts';
import { ApiError } from '../errors.ts';

function splitHostPort(addr: string): { host: string; port: string } | undefined {
  const i = addr.lastIndexOf(':');
  if (i <= 0) return undefined;
  return { host: addr.slice(0, i), port: addr.slice(i + 1) };
}

export class LeaderHints {
  constructor(
    private readonly replica: Replica,
    /** This replica's own API address. */
    private readonly self: () => string,
    private readonly apiPeers: ReadonlyMap<NodeId, string> | undefined,
  ) {}

  /** The API address of member `id`, or '' when it cannot be known. */
  apiAddressOf(id: NodeId): string {
    if (!id) return '';
    const st = this.replica.status();
    if (id === st.id) return this.self();
    const configured = this.apiPeers?.get(id);
    if (configured) return configured;
    const peer = splitHostPort(st.members.find((m) => m.id === id)?.addr ?? '');
    const own = splitHostPort(st.members.find((m) => m.id === st.id)?.addr ?? '');
    const api = splitHostPort(this.self());
    if (!peer || !own || !api || peer.host === own.host) return '';
    return `${peer.host}:${api.port}`;
  }

  isLeader(): boolean {
    return this.replica.isLeader();
  }

  /** UNAVAILABLE naming the leader, for a call only the leader serves. */
  notLeader(what: string): ApiError {
    const st = this.replica.status();
    const addr = this.apiAddressOf(st.leader);
    const where = st.leader ? `the leader is replica ${st.leader}${addr ? ` at ${addr}` : ''}` : 'no leader is elected yet';
    return new ApiError(status.UNAVAILABLE, `${what} is served by the leader only: this replica (${st.id}) is not the leader; ${where}`, {
      'berth-leader': addr,
      'berth-leader-id': st.leader ? String(st.leader) : '',
    });
  }

  requireLeader(what: string): void {
    if (!this.replica.isLeader()) throw this.notLeader(what);
  }
}
