/**
 * Puts a Screen on the terminal. ink's renderer rebuilt a grid of cell objects for the
 * whole terminal on every frame (tokenizing every line's escape codes, then joining the
 * cells back into strings) and rewrote every line: 10–20 ms and 8,000 objects a frame
 * at 160×50, whatever changed. The screen is already plain lines (screen.ts), so this
 * paints them directly: each line's style is one SGR sequence, and a frame writes only
 * the lines that differ from the last one (cursor to the row, erase it, the new text),
 * in a single write inside a synchronized update. A size change repaints everything.
 *
 * `full` mode writes every frame whole as plain lines joined by newlines, as ink's debug
 * mode did: what tests read from a fake terminal.
 */
import type { Tone } from './rows.ts';
import type { Line, Screen } from './screen.ts';

export interface PaintTarget {
  write(s: string): unknown;
}

export interface PaintOptions {
  /** `diff` for a terminal; `full` writes each frame whole (tests, logs). */
  mode: 'diff' | 'full';
  /** SGR colours and attributes (otherwise plain text; the cursor row keeps its `>`). */
  colors: boolean;
}

const FG: Record<Tone, number | undefined> = {
  normal: undefined,
  ok: 36, // cyan
  warn: 33, // yellow
  error: 31, // red
  dim: 90, // gray
  busy: 35, // magenta
};

const ESC = '\u001b[';
const RESET = `${ESC}0m`;
export const HIDE_CURSOR = `${ESC}?25l`;
export const SHOW_CURSOR = `${ESC}?25h`;
/** Synchronized output (DEC mode 2026): the terminal shows the frame at once; others ignore it. */
const BEGIN_SYNC = `${ESC}?2026h`;
const END_SYNC = `${ESC}?2026l`;

/** A line as the terminal gets it: its text in its tone's colour, bold and inverse as asked. */
export function styleLine(l: Line, colors: boolean): string {
  if (!colors) return l.text.trimEnd();
  const codes: number[] = [];
  if (l.bold) codes.push(1);
  if (l.inverse) codes.push(7);
  const fg = FG[l.tone];
  if (fg !== undefined) codes.push(fg);
  return codes.length === 0 ? l.text : `${ESC}${codes.join(';')}m${l.text}${RESET}`;
}

/**
 * Whether the terminal takes colours, decided as chalk (ink's) decides: FORCE_COLOR, then
 * NO_COLOR, then what the stream says of itself.
 */
export function colorSupport(stream: unknown, env: Record<string, string | undefined> = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  if (env.NO_COLOR) return false;
  const s = stream as { isTTY?: boolean; hasColors?: () => boolean };
  return s.isTTY === true && typeof s.hasColors === 'function' ? s.hasColors() : false;
}

export class Painter {
  private shown: string[] = [];
  private width = -1;
  private full = true;
  /** Frames written and lines rewritten (tests check that a small change is a small write). */
  frames = 0;
  linesWritten = 0;

  constructor(
    private readonly out: PaintTarget,
    private readonly opts: PaintOptions,
  ) {}

  /** The next frame repaints everything (the terminal was resized, or scribbled on). */
  invalidate(): void {
    this.full = true;
  }

  paint(screen: Screen): void {
    const lines = screen.lines.map((l) => styleLine(l, this.opts.colors));
    if (this.opts.mode === 'full') {
      this.frames++;
      this.linesWritten += lines.length;
      this.shown = lines;
      this.out.write(lines.join('\n'));
      return;
    }
    const full = this.full || screen.width !== this.width || lines.length !== this.shown.length;
    let buf = '';
    let n = 0;
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      if (!full && l === this.shown[i]) continue;
      // Erase first, then write: erasing after a line that reaches the last column would
      // take its last character with it on some terminals.
      buf += `${ESC}${i + 1};1H${ESC}2K${l}`;
      n++;
    }
    this.shown = lines;
    this.width = screen.width;
    if (full) {
      buf = `${HIDE_CURSOR}${ESC}H${ESC}2J${buf}`;
      this.full = false;
    } else if (n === 0) return;
    this.frames++;
    this.linesWritten += n;
    this.out.write(`${BEGIN_SYNC}${buf}${END_SYNC}`);
  }

  /** The lines as last painted (styled). */
  get lines(): readonly string[] {
    return this.shown;
  }
}
