/**
 * The root component: paints the screen it is given, hands the controller every
 * keystroke, and tells it when the terminal is resized. mount.tsx gives it a new screen
 * whenever the controller says something changed.
 */
import { useInput, useStdout } from 'ink';
import { useEffect } from 'react';
import type { Controller } from '../controller.ts';
import type { Screen } from '../screen.ts';
import { ScreenView } from './screen-view.tsx';

export function App({ controller, screen }: { controller: Controller; screen: Screen }) {
  const { stdout } = useStdout();
  useInput((input, key) => controller.input(input, key));
  useEffect(() => {
    const onResize = () => controller.resize(stdout.columns || 80, stdout.rows || 24);
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [controller, stdout]);
  return <ScreenView screen={screen} />;
}
