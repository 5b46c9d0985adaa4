/**
 * The public face of src/tui: `berth ui` (runUi) and the pieces a test or a benchmark
 * drives directly — the Controller over an injected client and timers, the reducer, the
 * screen model, the painter. mount.tsx (ink for input, the Painter for output) is not
 * re-exported here so that importing this module does not load React before runUi has
 * chosen its build.
 */
import type { Io } from '../cli/commands/common.ts';

export { UI_USAGE } from './usage.ts';

/**
 * `berth ui`. React and ink run their production builds (development React checks cost
 * a render several times over) unless NODE_ENV asks otherwise.
 */
export async function runUi(argv: string[], io: Io): Promise<number> {
  process.env.NODE_ENV ??= 'production';
  return (await import('./run.ts')).runUi(argv, io);
}

export { Controller, neededKinds, type ControllerOptions, type UiClient } from './controller.ts';
export { FakeTimers, realTimers, type Timers } from './clock.ts';
export { reduceKey, runCommand, TAILS } from './reducer.ts';
export { buildScreen, bodyHeight, type Screen, type Line } from './screen.ts';
export { initialState, newFrame, type UiState, type KeyContext, type Effect } from './state.ts';
export { VIEWS, viewById, viewByAlias } from './views.ts';
export { Painter, colorSupport, styleLine, type PaintOptions } from './paint.ts';
