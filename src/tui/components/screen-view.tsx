/**
 * The screen: its lines top to bottom, nothing computed here (screen.ts did). One Text
 * holds every line (each a nested Text for its colour): ink lays out and paints one node
 * instead of fifty, which is most of what a redraw costs.
 */
import { Box, Text } from 'ink';
import type { Screen } from '../screen.ts';
import { LineView } from './line-view.tsx';

export function ScreenView({ screen }: { screen: Screen }) {
  const last = screen.lines.length - 1;
  return (
    <Box flexDirection="column" width={screen.width}>
      <Text>
        {screen.lines.map((line, i) => (
          <LineView key={i} line={line} last={i === last} />
        ))}
      </Text>
    </Box>
  );
}
