/** One line of the screen, painted: its tone as a colour, the cursor inverted. */
import { Text } from 'ink';
import type { Tone } from '../rows.ts';
import type { Line } from '../screen.ts';

const COLOR: Record<Tone, string | undefined> = {
  normal: undefined,
  ok: 'cyan',
  warn: 'yellow',
  error: 'red',
  dim: 'gray',
  busy: 'magenta',
};

/** A nested Text: the screen's lines share one Text, so each but the last ends its line. */
export function LineView({ line, last }: { line: Line; last: boolean }) {
  const color = COLOR[line.tone];
  return (
    <Text {...(color ? { color } : {})} inverse={Boolean(line.inverse)} bold={Boolean(line.bold)}>
      {last ? line.text : `${line.text}\n`}
    </Text>
  );
}
