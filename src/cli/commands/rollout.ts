/**
 * `berth rollout status|history|undo|restart|pause|resume` for Deployments, as kubectl
 * does them — all on the client, through the API:
 *
 *   status   watches the Deployment until its rollout is done (live progress on a
 *            terminal, one line per change elsewhere), fails on ProgressDeadlineExceeded
 *   history  the revisions of the ReplicaSets the Deployment controls
 *   undo     copies a revision's pod template (without pod-template-hash) back into the
 *            Deployment, conditional on the version read
 *   restart  sets kubectl.kubernetes.io/restartedAt on the pod template
 *   pause / resume   spec.paused
 */
import type { KindInfo } from '../../api/index.ts';
import type { BerthClient, PlainObject } from '../../client/client.ts';
import { bool, int, parseFlags, str } from '../flags.ts';
import { podTemplateText } from '../output/describe.ts';
import { CliError, formatError } from '../output/errors.ts';
import { objectRef, qualifiedPlural } from '../output/format.ts';
import { deploymentStatus, waitWithProgress, WaitFailed, WaitTimeout } from '../output/progress.ts';
import { formatTabbed } from '../output/tabwriter.ts';
import { connect, dryRunMode, dryRunSuffix, GLOBAL_FLAGS, GLOBAL_HELP, parseResourceArgs, progressOut, type Io, type Session } from './common.ts';
import {
  CHANGE_CAUSE_ANNOTATION,
  equalIgnoreHash,
  isConflict,
  metaOf,
  POD_TEMPLATE_HASH,
  rec,
  replicaSetsOf,
  revisionOf,
} from './workloads.ts';

export const ROLLOUT_USAGE = `Manage the rollout of Deployments.

Usage:
  berth rollout status TYPE NAME|TYPE/NAME [--watch=false] [--revision N] [--timeout D]
  berth rollout history TYPE NAME|TYPE/NAME [--revision N]
  berth rollout undo TYPE NAME|TYPE/NAME [--to-revision N] [--dry-run]
  berth rollout restart TYPE NAME|TYPE/NAME
  berth rollout pause TYPE NAME|TYPE/NAME
  berth rollout resume TYPE NAME|TYPE/NAME

Examples:
  berth rollout status deploy/web               # wait until the rollout is done
  berth rollout history deploy/web --revision 2 # the pod template of revision 2
  berth rollout undo deploy/web --to-revision 1 # back to revision 1
  berth rollout restart deploy/web              # replace every pod

Flags:
  -w, --watch                  status: keep watching until done (default true)
      --revision N             status: wait for this revision; history: show this revision
      --timeout DURATION       status: give up after this long (default: never)
      --to-revision N          undo: the revision to go back to (default: the previous one)
      --dry-run[=client]       undo: print the template it would restore
${GLOBAL_HELP}`;

/** Annotations of the Deployment that a rollback keeps, and of the ReplicaSet that it does not copy. */
const ANNOTATIONS_TO_SKIP = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  'deployment.kubernetes.io/revision',
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

export async function runRollout(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...GLOBAL_FLAGS,
    watch: { type: 'bool', short: 'w' },
    revision: 'int',
    timeout: 'duration',
    'to-revision': 'int',
    'dry-run': { type: 'string', noValue: 'client' },
    selector: { type: 'string', short: 'l' },
  });
  const [sub, ...args] = f._;
  if (bool(f, 'help') || sub === undefined) {
    io.write(ROLLOUT_USAGE);
    return sub === undefined && !bool(f, 'help') ? 1 : 0;
  }
  if (!['status', 'history', 'undo', 'restart', 'pause', 'resume'].includes(sub)) {
    throw new CliError(`unknown command "${sub}" for "berth rollout"`);
  }
  if (args.length === 0) throw new CliError('required resource not specified');
  const requests = parseResourceArgs(args);
  const selector = str(f, 'selector') ?? '';
  if (requests.some((r) => r.name === undefined) && !selector) throw new CliError('resource(s) were provided, but no name was specified');

  const session = await connect(f, io);
  let failed = false;
  try {
    const targets: { info: KindInfo; name: string }[] = [];
    for (const r of requests) {
      if (r.name !== undefined) targets.push({ info: r.info, name: r.name });
      else {
        const page = await session.client.list(r.info.plural, { namespace: session.namespace, labelSelector: selector });
        for (const o of page.items) targets.push({ info: r.info, name: String(metaOf(o).name ?? '') });
      }
    }
    for (const t of targets) {
      try {
        const ok = await runOne(sub, t, session, f, io);
        if (!ok) failed = true;
      } catch (e) {
        failed = true;
        if (e instanceof WaitTimeout) io.error(`error: ${e.message}\n`);
        else if (e instanceof WaitFailed) io.error(`error: ${e.message}\n`);
        else io.error(formatError(e, { kind: t.info, endpoints: session.client.endpoints }));
      }
    }
  } finally {
    session.client.close();
  }
  return failed ? 1 : 0;
}

function groupKind(info: KindInfo): string {
  return info.group ? `${info.kind}.${info.group}` : info.kind;
}

/** One subcommand on one object; false when it failed (the error already printed). */
async function runOne(sub: string, t: { info: KindInfo; name: string }, session: Session, f: ReturnType<typeof parseFlags>, io: Io): Promise<boolean> {
  const { client, namespace } = session;
  const { info, name } = t;
  const ref = objectRef(info, name);
  if (info.kind !== 'Deployment') {
    const what: Record<string, string> = {
      status: `no status viewer has been implemented for ${groupKind(info)}`,
      history: `no history viewer has been implemented for ${groupKind(info)}`,
      undo: `no rollbacker has been implemented for "${groupKind(info)}"`,
      restart: `${qualifiedPlural(info)} "${name}" restarting is not supported`,
      pause: `${qualifiedPlural(info)} "${name}" pausing is not supported`,
      resume: `${qualifiedPlural(info)} "${name}" resuming is not supported`,
    };
    throw new CliError(what[sub]!);
  }
  switch (sub) {
    case 'status':
      return rolloutStatus(client, info, namespace, name, { watch: f.watch !== false, revision: int(f, 'revision') ?? 0, timeoutMs: int(f, 'timeout') ?? 0 }, io);
    case 'history': {
      const d = await client.get(info.plural, namespace, name);
      const sets = await replicaSetsOf(client, d);
      io.write(historyText(ref, sets.all, int(f, 'revision') ?? 0));
      return true;
    }
    case 'undo': {
      const mode = dryRunMode(f);
      for (let attempt = 0; ; attempt++) {
        const d = await client.get(info.plural, namespace, name);
        const sets = await replicaSetsOf(client, d);
        const plan = planUndo(d, sets.all, int(f, 'to-revision') ?? 0);
        if (mode === 'client') {
          io.write(`${ref} ${dryRunSuffix(mode).trim()}\n${podTemplateText(plan.template)}`);
          return true;
        }
        if (plan.unchanged) {
          io.write(`${ref} skipped rollback (current template already matches revision ${plan.revision})\n`);
          return true;
        }
        try {
          await client.update(plan.deployment, mode === 'server');
          io.write(`${ref} rolled back${dryRunSuffix(mode)}\n`);
          return true;
        } catch (e) {
          // Someone changed the deployment since it was read: decide again on what is there now.
          if (!isConflict(e) || attempt >= 3) throw e;
        }
      }
    }
    case 'restart':
    case 'pause':
    case 'resume': {
      const now = new Date(io.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
      for (let attempt = 0; ; attempt++) {
        const d = await client.get(info.plural, namespace, name);
        const spec = rec(d.spec);
        const paused = spec.paused === true;
        if (sub === 'pause' && paused) throw new CliError(`${qualifiedPlural(info)} "${name}" is already paused`);
        if (sub === 'resume' && !paused) throw new CliError(`${qualifiedPlural(info)} "${name}" is not paused`);
        if (sub === 'restart' && paused) throw new CliError("can't restart paused deployment (run rollout resume first)");
        const next = structuredClone(d);
        const nspec = rec(next.spec);
        if (sub === 'pause') nspec.paused = true;
        else if (sub === 'resume') delete nspec.paused;
        else {
          const template = rec(nspec.template);
          const tm = rec(template.metadata);
          tm.annotations = { ...rec(tm.annotations), [RESTARTED_AT_ANNOTATION]: now };
          template.metadata = tm;
          nspec.template = template;
        }
        next.spec = nspec;
        try {
          await client.update(next);
          io.write(`${ref} ${sub === 'pause' ? 'paused' : sub === 'resume' ? 'resumed' : 'restarted'}\n`);
          return true;
        } catch (e) {
          if (!isConflict(e) || attempt >= 5) throw e;
        }
      }
    }
  }
  return false;
}

/** `rollout status`: waits (or looks once) and prints kubectl's lines. */
async function rolloutStatus(
  client: BerthClient,
  info: KindInfo,
  namespace: string,
  name: string,
  o: { watch: boolean; revision: number; timeoutMs: number },
  io: Io,
): Promise<boolean> {
  if (!o.watch) {
    const d = await client.get(info.plural, namespace, name);
    const s = deploymentStatus(d, o.revision);
    if (s.failed) throw new WaitFailed(s.failed);
    io.write(`${s.message}\n`);
    return true;
  }
  const s = await waitWithProgress(progressOut(io), `deployment "${name}"`, {
    client,
    info,
    namespace,
    name,
    evaluate: (d) => deploymentStatus(d, o.revision),
    timeoutMs: o.timeoutMs,
    now: io.now,
  });
  return s.done;
}

// ---- history and undo (pure) -----------------------------------------------------------------

/** kubectl's `rollout history` text for a deployment's ReplicaSets. */
export function historyText(ref: string, sets: readonly PlainObject[], revision: number): string {
  const byRevision = new Map<number, PlainObject>();
  for (const rs of sets) byRevision.set(revisionOf(rs), rs);
  if (byRevision.size === 0) return `${ref} \nNo rollout history found.\n`;
  if (revision > 0) {
    const rs = byRevision.get(revision);
    if (!rs) throw new CliError('unable to find the specified revision');
    const template = structuredClone(rec(rec(rs.spec).template));
    const cause = rec(metaOf(rs).annotations)[CHANGE_CAUSE_ANNOTATION];
    if (typeof cause === 'string' && cause !== '') {
      const tm = rec(template.metadata);
      tm.annotations = { ...rec(tm.annotations), [CHANGE_CAUSE_ANNOTATION]: cause };
      template.metadata = tm;
    }
    return `${ref} with revision #${revision}\n${podTemplateText(template)}\n`;
  }
  const rows = [...byRevision.keys()].sort((a, b) => a - b).map((r) => {
    const cause = rec(metaOf(byRevision.get(r)!).annotations)[CHANGE_CAUSE_ANNOTATION];
    return `${r}\t${typeof cause === 'string' && cause !== '' ? cause : '<none>'}\n`;
  });
  return `${ref} \n${formatTabbed(`REVISION\tCHANGE-CAUSE\n${rows.join('')}`)}\n`;
}

export interface UndoPlan {
  /** The Deployment to write (the version read, with the revision's template). */
  deployment: PlainObject;
  /** The template restored. */
  template: Record<string, unknown>;
  revision: number;
  /** The Deployment already has that template. */
  unchanged: boolean;
}

/**
 * Which revision `rollout undo` goes back to (`toRevision`, else the one before the
 * latest) and the Deployment with its template, as kubectl computes them. Throws CliError
 * with kubectl's wording when it cannot.
 */
export function planUndo(deployment: PlainObject, sets: readonly PlainObject[], toRevision: number): UndoPlan {
  const name = String(metaOf(deployment).name ?? '');
  if (rec(deployment.spec).paused === true) {
    throw new CliError("you cannot rollback a paused deployment; resume it first with 'berth rollout resume' and try again");
  }
  let target: PlainObject | undefined;
  let latest: { rev: number; rs?: PlainObject } = { rev: -1 };
  let previous: { rev: number; rs?: PlainObject } = { rev: -1 };
  for (const rs of sets) {
    const v = revisionOf(rs);
    if (toRevision === 0) {
      if (latest.rev < v) {
        previous = latest;
        latest = { rev: v, rs };
      } else if (previous.rev < v) {
        previous = { rev: v, rs };
      }
    } else if (v === toRevision) {
      target = rs;
      break;
    }
  }
  if (toRevision > 0 && !target) throw new CliError(`unable to find specified revision ${toRevision} in history`);
  if (toRevision === 0) {
    if (!previous.rs) throw new CliError(`no rollout history found for deployment "${name}"`);
    target = previous.rs;
  }
  const rs = target!;
  const revision = revisionOf(rs);
  const template = structuredClone(rec(rec(rs.spec).template));
  const d = structuredClone(deployment);
  const spec = rec(d.spec);
  if (equalIgnoreHash(template, spec.template)) return { deployment: d, template, revision, unchanged: true };
  const tm = rec(template.metadata);
  const labels = { ...rec(tm.labels) };
  delete labels[POD_TEMPLATE_HASH];
  tm.labels = labels;
  template.metadata = tm;
  spec.template = template;
  d.spec = spec;
  // The deployment keeps its own bookkeeping annotations and takes the revision's others.
  const dm = metaOf(d);
  const annotations: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec(dm.annotations))) if (ANNOTATIONS_TO_SKIP.has(k)) annotations[k] = v;
  for (const [k, v] of Object.entries(rec(metaOf(rs).annotations))) if (!ANNOTATIONS_TO_SKIP.has(k)) annotations[k] = v;
  dm.annotations = annotations;
  d.metadata = dm;
  return { deployment: d, template, revision, unchanged: false };
}
