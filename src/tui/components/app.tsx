/**
 * The root component: hands the controller every keystroke and tells it when the
 * terminal is resized. It draws nothing through ink: mount.tsx paints the controller's
 * screen (paint.ts).
 */
import { useInput, useStdout } from 'ink';
import { useEffect } from 'react';
import type { Controller } from '../controller.ts';

export function App({ controller, onResize }: { controller: Controller; onResize: () => void }) {
  const { stdout } = useStdout();
  useInput((input, key) => controller.input(input, key));
  useEffect(() => {
    const resized = () => {
      // The painter repaints the whole screen on the redraw the resize causes.
      onResize();
      controller.resize(stdout.columns || 80, stdout.rows || 24);
    };
    stdout.on('resize', resized);
    return () => {
      stdout.off('resize', resized);
    };
  }, [controller, stdout, onResize]);
  return null;
}
