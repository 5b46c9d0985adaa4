/**
 * The verbs beyond apply/get/delete — describe, create, edit, scale, rollout, label,
 * annotate, cordon, uncordon, drain, taint, explain, events, completion — dispatched here
 * so that main.ts loads each one's module only when it runs.
 */
import type { Io } from './common.ts';

export const MORE_VERBS = [
  'create',
  'describe',
  'edit',
  'scale',
  'rollout',
  'label',
  'annotate',
  'cordon',
  'uncordon',
  'drain',
  'taint',
  'explain',
  'events',
  'completion',
] as const;

export async function runVerb(cmd: string, argv: string[], io: Io): Promise<number> {
  switch (cmd) {
    case 'create':
      return (await import('./create.ts')).runCreate(argv, io);
    case 'describe':
      return (await import('./describe.ts')).runDescribe(argv, io);
    case 'edit':
      return (await import('./edit.ts')).runEdit(argv, io);
    case 'scale':
      return (await import('./scale.ts')).runScale(argv, io);
    case 'rollout':
      return (await import('./rollout.ts')).runRollout(argv, io);
    case 'label':
    case 'annotate':
      return (await import('./label.ts')).runLabel(argv, io, cmd);
    case 'cordon':
    case 'uncordon':
      return (await import('./node-cmds.ts')).runCordon(argv, io, cmd === 'cordon');
    case 'drain':
      return (await import('./node-cmds.ts')).runDrain(argv, io);
    case 'taint':
      return (await import('./node-cmds.ts')).runTaint(argv, io);
    case 'explain':
      return (await import('./explain.ts')).runExplain(argv, io);
    case 'events':
      return (await import('./events.ts')).runEvents(argv, io);
    case 'completion':
      return (await import('./completion.ts')).runCompletion(argv, io);
    default:
      io.error(`error: unknown command "${cmd}" for "berth"\nRun 'berth --help' for usage.\n`);
      return 1;
  }
}
