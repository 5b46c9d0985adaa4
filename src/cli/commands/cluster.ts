/**
 * `berth cluster ...`: the control plane's Raft membership — status (every reachable
 * replica's view merged into one table), members, transfer-leader, add-member,
 * remove-member.
 */
import type { BerthClient, ClusterStatus } from '../../client/client.ts';
import { bool, parseFlags, str } from '../flags.ts';
import { painter } from '../output/color.ts';
import { CliError, formatError } from '../output/errors.ts';
import { toJson, toYaml } from '../output/format.ts';
import { renderTable } from '../output/table.ts';
import { sleep } from '../proc-cluster.ts';
import { connect, GLOBAL_FLAGS, GLOBAL_HELP, type Io } from './common.ts';

export const CLUSTER_USAGE = `Inspect and change the control plane's membership.

Usage:
  berth cluster status [-o json|yaml]        every member: role, term, commit, applied, lag
  berth cluster members [-o json|yaml]       the membership as the leader sees it
  berth cluster transfer-leader ID           hand leadership to replica ID
  berth cluster add-member ID PEER_ADDR [--learner] [--api-address HOST:PORT]
                                             add a replica: start it first with
                                             'berth server --join' (it waits to be contacted);
                                             a voter is added as a learner, caught up, then promoted
  berth cluster remove-member ID             remove a replica

${GLOBAL_HELP}`;

/** One reachable endpoint's answer. */
export interface EndpointStatus {
  endpoint: string;
  status: ClusterStatus;
}

export interface MemberRow {
  id: number;
  role: string;
  term: number | undefined;
  commit: number | undefined;
  applied: number | undefined;
  lag: number | undefined;
  peerAddress: string;
  apiAddress: string;
  reachable: boolean;
}

/**
 * Merges the statuses of the replicas that answered: the membership and lag as the
 * leader sees them (the most recent term's leader wins), each member's own role, term and
 * indexes when it answered itself.
 */
export function mergeStatuses(answers: readonly EndpointStatus[]): { leader: number; term: number; members: MemberRow[] } {
  if (answers.length === 0) return { leader: 0, term: 0, members: [] };
  const byId = new Map<number, EndpointStatus>();
  for (const a of answers) byId.set(a.status.id, a);
  const leaders = answers.filter((a) => a.status.role === 'leader').sort((a, b) => b.status.term - a.status.term);
  const view = leaders[0] ?? [...answers].sort((a, b) => b.status.term - a.status.term)[0]!;
  const term = Math.max(...answers.map((a) => a.status.term));
  const leader = leaders[0]?.status.id ?? view.status.leader;
  const ids = new Set<number>(view.status.members.map((m) => m.id));
  for (const a of answers) ids.add(a.status.id);
  const members = [...ids]
    .sort((a, b) => a - b)
    .map((id): MemberRow => {
      const m = view.status.members.find((x) => x.id === id);
      const own = byId.get(id);
      const learner = m ? !m.voter : false;
      let role = own ? own.status.role : 'unreachable';
      if (own && learner && role === 'follower') role = 'learner';
      if (role === 'preCandidate') role = 'candidate';
      return {
        id,
        role,
        term: own?.status.term,
        commit: own?.status.commit_index,
        applied: own?.status.applied_index,
        lag: leaders[0] && m ? (id === leader ? 0 : m.lag) : undefined,
        peerAddress: m?.peer_address ?? own?.status.members.find((x) => x.id === id)?.peer_address ?? '',
        apiAddress: own?.endpoint ?? '',
        reachable: Boolean(own),
      };
    });
  return { leader, term, members };
}

/** The `cluster status` table. */
export function statusTable(members: readonly MemberRow[], leader: number, color = false): string {
  const p = painter(color);
  const num = (v: number | undefined) => (v === undefined ? '-' : String(v));
  const rows = members.map((m) => [
    m.id === leader ? `${m.id}*` : String(m.id),
    m.id === leader ? p.green(m.role) : m.reachable ? m.role : p.red(m.role),
    num(m.term),
    num(m.commit),
    num(m.applied),
    num(m.lag),
    m.peerAddress || '-',
    m.apiAddress || '-',
  ]);
  return renderTable([['ID', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LAG', 'PEER ADDRESS', 'API ADDRESS'], ...rows]);
}

/** Asks every endpoint for its status; unreachable ones are left out. */
export async function gatherStatuses(client: BerthClient): Promise<{ answers: EndpointStatus[]; errors: unknown[] }> {
  const results = await Promise.allSettled(client.endpoints.map((_, i) => client.status(i)));
  const answers: EndpointStatus[] = [];
  const errors: unknown[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') answers.push({ endpoint: client.endpoints[i]!, status: r.value });
    else errors.push(r.reason);
  });
  return { answers, errors };
}

function positiveId(s: string | undefined, what: string): number {
  if (s === undefined || !/^\d+$/.test(s) || Number(s) <= 0) throw new CliError(`${what}: expected a positive replica id, got "${s ?? ''}"`);
  return Number(s);
}

export async function runCluster(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { ...GLOBAL_FLAGS, output: { type: 'string', short: 'o' }, learner: 'bool', 'api-address': 'string' });
  const [sub, ...args] = f._;
  if (bool(f, 'help') || sub === undefined || sub === 'help') {
    io.write(CLUSTER_USAGE);
    return sub === undefined && !bool(f, 'help') ? 1 : 0;
  }
  const output = str(f, 'output') ?? '';
  if (!['', 'json', 'yaml'].includes(output)) throw new CliError(`unable to match a printer suitable for the output format "${output}", allowed formats are: json,yaml`);
  const expectArgs = (n: number, usage: string) => {
    if (args.length !== n) throw new CliError(`${args.length < n ? 'missing' : 'too many'} arguments; usage: berth cluster ${usage}`);
  };
  const session = await connect(f, io);
  const { client } = session;
  try {
    switch (sub) {
      case 'status': {
        expectArgs(0, 'status');
        const { answers, errors } = await gatherStatuses(client);
        if (answers.length === 0) {
          io.error(formatError(errors[0], { endpoints: client.endpoints }));
          return 1;
        }
        const merged = mergeStatuses(answers);
        if (output) {
          const doc = { clusterId: answers[0]!.status.cluster_id, leader: merged.leader, term: merged.term, members: merged.members };
          io.write(output === 'json' ? toJson(doc) : toYaml(doc));
        } else {
          io.write(statusTable(merged.members, merged.leader, io.tty));
          if (merged.leader === 0) io.error('warning: no leader: an election is in progress or a quorum is unreachable\n');
        }
        return 0;
      }
      case 'members': {
        expectArgs(0, 'members');
        const { answers, errors } = await gatherStatuses(client);
        if (answers.length === 0) {
          io.error(formatError(errors[0], { endpoints: client.endpoints }));
          return 1;
        }
        const leaderAnswer = answers.filter((a) => a.status.role === 'leader').sort((a, b) => b.status.term - a.status.term)[0] ?? answers[0]!;
        const api = new Map(answers.map((a) => [a.status.id, a.endpoint]));
        const members = [...leaderAnswer.status.members].sort((a, b) => a.id - b.id);
        if (output) {
          const doc = members.map((m) => ({ id: m.id, peerAddress: m.peer_address, apiAddress: api.get(m.id) ?? '', voter: m.voter, leader: m.leader }));
          io.write(output === 'json' ? toJson(doc) : toYaml(doc));
        } else {
          const rows = members.map((m) => [String(m.id), m.peer_address, api.get(m.id) ?? '-', m.voter ? 'voter' : 'learner', m.leader ? 'yes' : '']);
          io.write(renderTable([['ID', 'PEER ADDRESS', 'API ADDRESS', 'VOTE', 'LEADER'], ...rows]));
        }
        return 0;
      }
      case 'transfer-leader': {
        expectArgs(1, 'transfer-leader ID');
        const to = positiveId(args[0], 'transfer-leader');
        await client.transferLeader(to);
        // The answer comes from the old leader; confirm with whoever leads now.
        const deadline = Date.now() + 5000;
        for (;;) {
          const { answers } = await gatherStatuses(client);
          const merged = mergeStatuses(answers);
          if (merged.leader === to) {
            io.write(`replica ${to} is now the leader (term ${merged.term})\n`);
            return 0;
          }
          if (Date.now() > deadline) {
            io.error(`error: asked replica ${to} to take over, but replica ${merged.leader || 'none'} leads\n`);
            return 1;
          }
          await sleep(100);
        }
      }
      case 'add-member': {
        expectArgs(2, 'add-member ID PEER_ADDR [--learner]');
        const id = positiveId(args[0], 'add-member');
        const peer = args[1]!;
        if (!/^[^\s:]+:\d+$/.test(peer)) throw new CliError(`add-member: "${peer}" is not host:port`);
        const learner = bool(f, 'learner');
        const s = await client.addMember(id, peer, learner);
        const peers = s.members
          .map((m) => `${m.id}=${m.peer_address}`)
          .concat(s.members.some((m) => m.id === id) ? [] : [`${id}=${peer}`])
          .join(',');
        io.write(`replica ${id} added as a ${learner ? 'learner' : 'voter'} (peer address ${peer})\n`);
        io.write(`its command line: berth server --id ${id} --peers ${peers} --listen ${str(f, 'api-address') ?? 'HOST:PORT'} --data-dir DIR --join\n`);
        return 0;
      }
      case 'remove-member': {
        expectArgs(1, 'remove-member ID');
        const id = positiveId(args[0], 'remove-member');
        await client.removeMember(id);
        io.write(`replica ${id} removed\n`);
        return 0;
      }
      default:
        throw new CliError(`unknown command "${sub}" for "berth cluster"\nRun 'berth cluster --help' for usage.`);
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    io.error(formatError(e, { endpoints: client.endpoints }));
    return 1;
  } finally {
    client.close();
  }
}
