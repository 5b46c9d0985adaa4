/**
 * The interpreter of the golden-trace scripts in test/testdata/raft. It drives a
 * {@link Cluster} one explicit step at a time and prints what every step did:
 *
 *   add-nodes N [voters=(..)] [learners=(..)] [index=I] [prevote=true] [checkquorum=true]
 *             [heartbeat-tick=T] [max-size-per-msg=B] [max-inflight=N] [max-uncommitted=B]
 *             [read-only=lease]
 *   campaign ID                      start an election now
 *   propose ID DATA                  propose a normal entry
 *   propose-conf-change ID addVoter|addLearner|removeNode NODE
 *   tick-heartbeat ID                tick heartbeatTick times
 *   tick-election ID                 tick electionTick times
 *   process-ready ID...              handle one Ready of each node
 *   deliver-msgs [drop=(..)] [type=T] ID...
 *                                    deliver queued messages to these nodes (or drop them)
 *   stabilize [ID...]                handle Readies and deliver until nothing moves
 *   partition G...                   cut every link between groups; a group is ID or (ID,..);
 *                                    nodes not named form one more group
 *   heal                             restore all links
 *   transfer-leadership from=ID to=ID
 *   compact ID INDEX                 snapshot the applied state at INDEX, drop the log before
 *   read-index ID CTX
 *   report-unreachable ID PEER
 *   status ID | raft-log ID | app-state ID
 *   log-level debug|info|warn|none
 *
 * Nodes use random = () => 0, so a follower's election timeout is exactly electionTick.
 * Besides the core's own log lines, a "STATE" line is printed whenever a node's role,
 * term or leader changes as the result of a step, so the traces read as a story.
 */

import { describeEntry, describeMessage, describeReady } from '../../src/raft/describe.ts';
import { ProposalRefused, type Config, type ConfChangeType, type Message, type MessageType, type NodeId } from '../../src/raft/types.ts';
import { Cluster, utf8, type LogLevel } from './cluster.ts';
import { splitGroup, type Command } from './datadriven.ts';

const LEVELS: Record<LogLevel | 'none', number> = { debug: 0, info: 1, warn: 2, none: 3 };

interface Seen {
  role: string;
  term: number;
  lead: NodeId;
}

export class InteractionEnv {
  readonly cluster = new Cluster({}, () => () => 0);
  private out: string[] = [];
  private indent = '';
  private level: number = LEVELS.info;
  private readonly seen = new Map<NodeId, Seen>();

  constructor() {
    this.cluster.logSink = (level, line) => {
      if (LEVELS[level] >= this.level) this.print(`${level.toUpperCase()} ${line}`);
    };
  }

  /** Run one command; returns its output ("ok" when it printed nothing). */
  handle(cmd: Command): string {
    this.out = [];
    this.indent = '';
    try {
      this.dispatch(cmd);
    } catch (e) {
      if (!(e instanceof ProposalRefused)) throw e;
      this.print(`refused: ${e.message}`);
    }
    const s = this.out.join('\n');
    return s === '' ? 'ok' : s;
  }

  private print(s: string): void {
    for (const l of s.split('\n')) this.out.push(`${this.indent}${l}`);
  }

  private withIndent(extra: string, f: () => void): void {
    const saved = this.indent;
    this.indent += extra;
    try {
      f();
    } finally {
      this.indent = saved;
    }
  }

  /** Print a STATE line for every node whose role/term/leader changed. */
  private noteStates(ids: NodeId[] = this.cluster.ids()): void {
    for (const id of ids) {
      const r = this.cluster.raft(id);
      const now: Seen = { role: r.role, term: r.term, lead: r.lead };
      const before = this.seen.get(id);
      this.seen.set(id, now);
      if (!before || before.role !== now.role || before.term !== now.term || before.lead !== now.lead) {
        if (before) this.print(`STATE ${id}: ${now.role} term=${now.term} lead=${now.lead}`);
      }
    }
  }

  private dispatch(cmd: Command): void {
    switch (cmd.name) {
      case 'add-nodes':
        return this.addNodes(cmd);
      case 'campaign':
        return this.onNode(cmd, (id) => this.cluster.raft(id).campaign());
      case 'propose': {
        const [id, data] = this.need(cmd, 2);
        return this.onNode(cmd, () => {
          this.cluster.raft(Number(id)).propose(utf8(data!));
        });
      }
      case 'propose-conf-change': {
        const [id, type, node] = this.need(cmd, 3);
        if (type !== 'addVoter' && type !== 'addLearner' && type !== 'removeNode') throw new Error(`bad conf change type ${type}`);
        return this.onNode(cmd, () => {
          this.cluster.raft(Number(id)).proposeConfChange({ type: type as ConfChangeType, nodeId: Number(node) });
        });
      }
      case 'tick-heartbeat':
        return this.onNode(cmd, (id) => this.cluster.tick(id, this.cluster.raft(id).cfg.heartbeatTick));
      case 'tick-election':
        return this.onNode(cmd, (id) => this.cluster.tick(id, this.cluster.raft(id).cfg.electionTick));
      case 'process-ready':
        for (const id of this.ids(cmd)) this.processReady(id);
        return;
      case 'deliver-msgs':
        return this.deliverMsgs(cmd);
      case 'stabilize':
        return this.stabilize(cmd.args.length > 0 ? this.ids(cmd) : this.cluster.ids());
      case 'partition':
        return this.partition(cmd);
      case 'heal':
        this.cluster.heal();
        return;
      case 'transfer-leadership': {
        const from = Number(cmd.kv.get('from')?.[0]);
        const to = Number(cmd.kv.get('to')?.[0]);
        this.cluster.raft(from).transferLeader(to);
        this.noteStates();
        return;
      }
      case 'compact': {
        const [id, index] = this.need(cmd, 2);
        this.cluster.compact(Number(id), Number(index));
        this.raftLog(Number(id));
        return;
      }
      case 'read-index': {
        const [id, ctx] = this.need(cmd, 2);
        this.cluster.raft(Number(id)).readIndex(utf8(ctx!));
        return;
      }
      case 'report-unreachable': {
        const [id, peer] = this.need(cmd, 2);
        this.cluster.raft(Number(id)).reportUnreachable(Number(peer));
        return;
      }
      case 'status':
        for (const id of this.ids(cmd)) this.status(id);
        return;
      case 'raft-log':
        for (const id of this.ids(cmd)) this.raftLog(id);
        return;
      case 'app-state':
        for (const id of this.ids(cmd)) {
          const n = this.cluster.get(id);
          this.print(`${id}: applied=${n.appliedIndex} data=[${n.appData().join(' ')}]`);
        }
        return;
      case 'log-level': {
        const [l] = this.need(cmd, 1);
        if (!(l! in LEVELS)) throw new Error(`unknown log level ${l}`);
        this.level = LEVELS[l as LogLevel | 'none'];
        return;
      }
      default:
        throw new Error(`unknown command ${cmd.name}`);
    }
  }

  private need(cmd: Command, n: number): string[] {
    if (cmd.args.length < n) throw new Error(`${cmd.name}: need ${n} arguments`);
    return cmd.args;
  }

  private ids(cmd: Command): NodeId[] {
    if (cmd.args.length === 0) throw new Error(`${cmd.name}: need node ids`);
    return cmd.args.map(Number);
  }

  /** Run `f` on the node named by the first argument, then report state changes. */
  private onNode(cmd: Command, f: (id: NodeId) => void): void {
    const id = Number(this.need(cmd, 1)[0]);
    try {
      f(id);
    } finally {
      this.noteStates();
    }
  }

  private addNodes(cmd: Command): void {
    const n = Number(this.need(cmd, 1)[0]);
    const num = (k: string) => (cmd.kv.has(k) ? Number(cmd.kv.get(k)![0]) : undefined);
    const flag = (k: string) => cmd.kv.get(k)?.[0] === 'true';
    const config: Partial<Config> = { preVote: flag('prevote'), checkQuorum: flag('checkquorum') };
    const size = num('max-size-per-msg');
    if (size !== undefined) config.maxSizePerMsg = size;
    const hb = num('heartbeat-tick');
    if (hb !== undefined) config.heartbeatTick = hb;
    const inflight = num('max-inflight');
    if (inflight !== undefined) config.maxInflightMsgs = inflight;
    const uncommitted = num('max-uncommitted');
    if (uncommitted !== undefined) config.maxUncommittedEntriesSize = uncommitted;
    if (cmd.kv.get('read-only')?.[0] === 'lease') config.readOnlyOption = 'lease';
    const voters = (cmd.kv.get('voters') ?? []).map(Number);
    const learners = (cmd.kv.get('learners') ?? []).map(Number);
    const index = num('index') ?? 0;
    const first = Math.max(0, ...this.cluster.ids()) + 1;
    for (let id = first; id < first + n; id++) {
      this.cluster.add(id, { voters, learners, snapshotIndex: index, config });
    }
    this.noteStates();
  }

  private processReady(id: NodeId): void {
    this.print(`> ${id} handling Ready`);
    this.withIndent('  ', () => {
      const dropsBefore = this.cluster.dropped.length;
      // Lines logged while the Ready is handled (advance() applies conf changes) are
      // printed after the Ready itself, which is what caused them.
      const logged: string[] = [];
      const saved = this.out;
      this.out = logged;
      let rd;
      try {
        rd = this.cluster.processReady(id);
      } finally {
        this.out = saved;
      }
      if (!rd) {
        this.print('<no Ready>');
        return;
      }
      this.print(describeReady(rd));
      this.out.push(...logged);
      this.printDropped(this.cluster.dropped.slice(dropsBefore));
      this.noteStates([id]);
    });
  }

  /** One dropped message in full; several as a summary ("1->2 heartbeat x2, ..."). */
  private printDropped(msgs: Message[]): void {
    if (msgs.length === 0) return;
    if (msgs.length === 1) {
      this.print(`dropped (partition): ${describeMessage(msgs[0]!)}`);
      return;
    }
    const counts = new Map<string, number>();
    for (const m of msgs) {
      const k = `${m.from}->${m.to} ${m.type}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const parts = [...counts].map(([k, n]) => (n > 1 ? `${k} x${n}` : k));
    this.print(`dropped (partition): ${parts.join(', ')}`);
  }

  private receive(id: NodeId, msgs: Message[]): void {
    this.print(`> ${id} receiving messages`);
    this.withIndent('  ', () => {
      for (const m of msgs) {
        this.print(describeMessage(m));
        this.withIndent('  ', () => {
          if (!this.cluster.stepOne(m)) this.print('dropped (partition)');
          this.noteStates();
        });
      }
    });
  }

  private deliverMsgs(cmd: Command): void {
    const types = cmd.kv.get('type') as MessageType[] | undefined;
    const ofType = (m: Message) => !types || types.includes(m.type);
    for (const id of (cmd.kv.get('drop') ?? []).map(Number)) {
      for (const m of this.cluster.take((m) => m.to === id && ofType(m))) this.print(`dropped: ${describeMessage(m)}`);
    }
    for (const id of cmd.args.map(Number)) {
      const msgs = this.cluster.take((m) => m.to === id && ofType(m));
      if (msgs.length > 0) this.receive(id, msgs);
    }
  }

  private stabilize(ids: NodeId[]): void {
    for (let round = 0; ; round++) {
      if (round > 1000) throw new Error('stabilize: no fixed point after 1000 rounds');
      let moved = false;
      for (const id of ids) {
        while (this.cluster.raft(id).hasReady()) {
          this.processReady(id);
          moved = true;
        }
      }
      for (const id of ids) {
        const msgs = this.cluster.take((m) => m.to === id);
        if (msgs.length > 0) {
          this.receive(id, msgs);
          moved = true;
        }
      }
      if (!moved) return;
    }
  }

  private partition(cmd: Command): void {
    const groups = cmd.args.map((g) => splitGroup(g).map(Number));
    const named = new Set(groups.flat());
    const rest = this.cluster.ids().filter((id) => !named.has(id));
    if (rest.length > 0) groups.push(rest);
    const groupOf = new Map<NodeId, number>();
    groups.forEach((g, i) => g.forEach((id) => groupOf.set(id, i)));
    for (const a of this.cluster.ids()) {
      for (const b of this.cluster.ids()) {
        if (a !== b && groupOf.get(a) !== groupOf.get(b)) this.cluster.cut(a, b);
      }
    }
    for (const m of this.cluster.take((m) => this.cluster.isCut(m.from, m.to))) {
      this.print(`dropped (partition): ${describeMessage(m)}`);
    }
  }

  private status(id: NodeId): void {
    const s = this.cluster.raft(id).status();
    const conf = `voters=(${s.conf.voters.join(',')}) learners=(${s.conf.learners.join(',')})`;
    const transfer = s.transferee !== 0 ? ` transferee=${s.transferee}` : '';
    this.print(
      `${id}: ${s.role} term=${s.term} vote=${s.vote} lead=${s.leader} commit=${s.commit} applied=${s.applied} lastIndex=${s.lastIndex} ${conf}${transfer}`,
    );
    for (const p of [...s.progress].sort((a, b) => a.id - b.id)) {
      this.print(`  ${p.id}: ${p.state} match=${p.match} next=${p.next}${p.learner ? ' learner' : ''}`);
    }
  }

  private raftLog(id: NodeId): void {
    const n = this.cluster.get(id);
    const log = n.log();
    if (log.length === 0) {
      this.print(`${id}: log is empty: first index=${n.storage.firstIndex()}, last index=${n.storage.lastIndex()}`);
      return;
    }
    for (const e of log) this.print(describeEntry(e));
  }
}
