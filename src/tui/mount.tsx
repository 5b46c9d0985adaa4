/**
 * Runs a Controller on a terminal (the real one, or a test's). ink owns the terminal's
 * input (raw mode, key parsing), resizes and the app's lifetime; the screen itself is
 * painted by a Painter, synchronously, each time the controller says something changed:
 * a redraw never waits in React's scheduler behind the watch traffic, and costs what the
 * changed lines cost (see paint.ts for why not ink's renderer).
 */
import { render, type Instance, type RenderOptions } from 'ink';
import { App } from './components/app.tsx';
import type { Controller } from './controller.ts';
import { colorSupport, Painter, SHOW_CURSOR } from './paint.ts';

export interface Mounted {
  ink: Instance;
  painter: Painter;
  /** Stops redrawing and unmounts. */
  unmount(): void;
}

type Writable = { write: (...args: never[]) => unknown };

export function mount(controller: Controller, options: RenderOptions): Mounted {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const diff = !options.debug;
  let live = true;
  let own = false;
  let repaintSoon = false;
  const paint = () => {
    if (!live) return;
    own = true;
    try {
      painter.paint(controller.screen());
    } finally {
      own = false;
    }
  };
  // Anything else written to the terminal (console output that ink passes through, a
  // library's warning) lands over painted lines the painter believes are still there:
  // repaint everything, once, after it.
  const restore: (() => void)[] = [];
  if (diff) {
    for (const stream of new Set<Writable>([stdout as unknown as Writable, stderr as unknown as Writable])) {
      const write = stream.write;
      stream.write = function (this: unknown, ...args: never[]) {
        if (!own && live && !repaintSoon) {
          repaintSoon = true;
          setImmediate(() => {
            repaintSoon = false;
            painter.invalidate();
            paint();
          });
        }
        return write.apply(this, args);
      } as typeof stream.write;
      restore.push(() => (stream.write = write));
    }
  }
  // ink's debug mode wrote every frame whole: so does the painter's full mode.
  const painter = new Painter(stdout, { mode: diff ? 'diff' : 'full', colors: colorSupport(stdout) });
  const ink = render(<App controller={controller} onResize={() => painter.invalidate()} />, options);
  const unsubscribe = controller.subscribe(paint);
  paint();
  return {
    ink,
    painter,
    unmount() {
      if (!live) return;
      live = false;
      unsubscribe();
      ink.unmount();
      for (const r of restore) r();
      if (diff) stdout.write(SHOW_CURSOR);
    },
  };
}
