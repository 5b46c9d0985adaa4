/**
 * Go's text/tabwriter, as kubectl's describers use it (minimum width 0, padding 2): text
 * is cut into cells at tabs; a cell ended by a tab belongs to a column, the text after a
 * line's last tab does not. A column block is a run of consecutive lines that all have a
 * cell in that column; within a block the column is as wide as its widest cell plus the
 * padding. Blocks nest from the left, so a line with fewer cells ends the blocks of the
 * columns it lacks. `flush()` formats what was written so far on its own (kubectl flushes
 * before an Events table so that it is aligned by itself).
 */

export interface TabWriterOptions {
  minWidth?: number;
  padding?: number;
  /** Keep the tabs as they are (kubectl prints some describer output without a tabwriter). */
  raw?: boolean;
}

export class TabWriter {
  private pending = '';
  private out = '';
  private readonly minWidth: number;
  private readonly padding: number;
  private readonly raw: boolean;

  constructor(opts: TabWriterOptions = {}) {
    this.minWidth = opts.minWidth ?? 0;
    this.padding = opts.padding ?? 2;
    this.raw = Boolean(opts.raw);
  }

  write(text: string): void {
    this.pending += text;
  }

  /** Formats everything written since the last flush. */
  flush(): void {
    if (this.pending === '') return;
    this.out += this.raw ? this.pending : formatTabbed(this.pending, this.minWidth, this.padding);
    this.pending = '';
  }

  /** Everything written, formatted. */
  toString(): string {
    this.flush();
    return this.out;
  }
}

/** Runes, as Go counts a cell's width. */
function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Formats tab-separated text as Go's tabwriter (left-aligned, space padding). */
export function formatTabbed(text: string, minWidth = 0, padding = 2): string {
  const endsWithNewline = text.endsWith('\n');
  const rawLines = text.split('\n');
  if (endsWithNewline) rawLines.pop();
  const lines = rawLines.map((l) => l.split('\t'));
  const widths: number[] = [];
  let out = '';

  const writeLines = (line0: number, line1: number) => {
    for (let i = line0; i < line1; i++) {
      const cells = lines[i]!;
      let s = '';
      cells.forEach((c, j) => {
        s += c;
        // Only cells ended by a tab are padded: the last one never is.
        if (j < cells.length - 1 && j < widths.length) s += ' '.repeat(Math.max(0, widths[j]! - width(c)));
      });
      out += s;
      if (i < lines.length - 1 || endsWithNewline) out += '\n';
    }
  };

  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let at = line0; at < line1; at++) {
      if (column >= lines[at]!.length - 1) continue;
      // A block of this column starts here: lines before it are done.
      writeLines(line0, at);
      line0 = at;
      let w = minWidth;
      for (; at < line1; at++) {
        const cells = lines[at]!;
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column]!) + padding);
      }
      widths.push(w);
      format(line0, at);
      widths.pop();
      // The line that ended the block (if any) has no cell here: the increment skips it.
      line0 = at;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out;
}

/**
 * kubectl's PrefixWriter: each call writes its text after two spaces per level of
 * indentation (only at the start of the call, not after newlines inside it).
 */
export class PrefixWriter {
  readonly tw: TabWriter;

  constructor(tw: TabWriter = new TabWriter()) {
    this.tw = tw;
  }

  write(level: number, text: string): void {
    this.tw.write('  '.repeat(level) + text);
  }

  /** Text ending the current line. */
  line(text: string): void {
    this.tw.write(`${text}\n`);
  }

  flush(): void {
    this.tw.flush();
  }

  toString(): string {
    return this.tw.toString();
  }
}
