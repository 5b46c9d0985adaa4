/**
 * Tables laid out as kubectl's printers do (Go's text/tabwriter with minimum width 6 and
 * padding 3): every column but the last is as wide as its widest cell plus three spaces,
 * at least six; the last column is not padded. Widths ignore ANSI colour sequences.
 */

const MIN_WIDTH = 6;
const PADDING = 3;

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** Printed width of a cell: code points, colour sequences excluded. */
export function visibleWidth(s: string): number {
  return [...s.replace(ANSI, '')].length;
}

/** Lays out rows (the header, if any, is just the first row); one string per line, no newlines. */
export function layoutTable(rows: readonly (readonly string[])[]): string[] {
  const widths = columnWidths(rows);
  return rows.map((row) => formatRow(row, widths));
}

/** The width of every column but the last of these rows. */
export function columnWidths(rows: readonly (readonly string[])[]): number[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (let i = 0; i < row.length - 1; i++) {
      widths[i] = Math.max(widths[i] ?? MIN_WIDTH, visibleWidth(row[i]!) + PADDING);
    }
  }
  return widths;
}

/** One row padded to the given widths (used to keep watch output aligned with its table). */
export function formatRow(row: readonly string[], widths: readonly number[]): string {
  let line = '';
  row.forEach((cell, i) => {
    if (i === row.length - 1) line += cell;
    else line += cell + ' '.repeat(Math.max(PADDING, (widths[i] ?? MIN_WIDTH) - visibleWidth(cell)));
  });
  return line;
}

/** Lays out rows and joins them into text ending with a newline ('' for no rows). */
export function renderTable(rows: readonly (readonly string[])[]): string {
  return rows.length === 0 ? '' : layoutTable(rows).join('\n') + '\n';
}
