/**
 * `berth ui`: the terminal UI over the current context's cluster — k9s' habits on
 * berth's API. Everything live comes from watch streams; keys are listed by `?`.
 */
import { bool, parseFlags, str } from '../cli/flags.ts';
import { CliError } from '../cli/output/errors.ts';
import { connect, GLOBAL_FLAGS, type Io } from '../cli/commands/common.ts';
import { realTimers } from './clock.ts';
import { Controller } from './controller.ts';
import { mount } from './mount.tsx';
import { viewByAlias } from './views.ts';
import { UI_USAGE } from './usage.ts';

const ALT_SCREEN_ON = '\u001b[?1049h\u001b[H';
const ALT_SCREEN_OFF = '\u001b[?1049l';

export async function runUi(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { ...GLOBAL_FLAGS, 'all-namespaces': { type: 'bool', short: 'A' } });
  if (bool(f, 'help')) {
    io.write(UI_USAGE);
    return 0;
  }
  if (f._.length > 1) throw new CliError(`unexpected arguments: ${f._.slice(1).join(' ')}`);
  const view = f._[0] === undefined ? 'pods' : viewByAlias(f._[0])?.id;
  if (!view || view === 'containers') throw new CliError(`unknown view "${f._[0]}": try pods, deploy, rs, jobs, svc, cm, secrets, events, nodes, ns or cluster`);
  const stdout = process.stdout;
  const stdin = process.stdin;
  if (!stdout.isTTY || !stdin.isTTY) throw new CliError('berth ui needs a terminal (stdin and stdout must be a TTY)');
  const session = await connect(f, io);
  const namespace = bool(f, 'all-namespaces') ? '' : session.namespace;
  const context = session.target.context ?? str(f, 'server') ?? session.target.source;
  let quit: () => void = () => {};
  const controller = new Controller({
    client: session.client,
    timers: realTimers,
    context,
    namespace,
    view,
    width: stdout.columns || 80,
    height: stdout.rows || 24,
    onQuit: () => quit(),
  });
  stdout.write(ALT_SCREEN_ON);
  // ink draws nothing (the Painter does; see mount.tsx), and its frame throttle is off:
  // the controller already coalesces redraws, and a keystroke must not wait for a window.
  const ui = mount(controller, { stdout, stdin, exitOnCtrlC: false, patchConsole: true, maxFps: 0 });
  quit = () => ui.unmount();
  controller.start();
  try {
    await ui.ink.waitUntilExit();
  } finally {
    controller.stop();
    session.client.close();
    stdout.write(ALT_SCREEN_OFF);
  }
  return 0;
}
