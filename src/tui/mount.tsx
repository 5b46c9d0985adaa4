/**
 * Renders a Controller with ink on a terminal (the real one, or a test's). Each change
 * the controller reports re-renders the root at once, synchronously (ink's rerender):
 * a redraw never waits in React's scheduler behind the watch traffic, so a keystroke is
 * on screen as soon as ink has painted it.
 */
import { render, type Instance, type RenderOptions } from 'ink';
import { App } from './components/app.tsx';
import type { Controller } from './controller.ts';

export interface Mounted {
  ink: Instance;
  /** Stops redrawing and unmounts. */
  unmount(): void;
}

export function mount(controller: Controller, options: RenderOptions): Mounted {
  const element = () => <App controller={controller} screen={controller.screen()} />;
  const ink = render(element(), options);
  let live = true;
  const unsubscribe = controller.subscribe(() => {
    if (live) ink.rerender(element());
  });
  return {
    ink,
    unmount() {
      live = false;
      unsubscribe();
      ink.unmount();
    },
  };
}
