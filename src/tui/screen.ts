/**
 * The whole screen as plain data — every line's text and colour — built from the state
 * and the rows on screen. Pure: the ink components only paint it, and tests read it.
 * Only the visible rows are asked for, so a view of 10,000 pods costs what a view of
 * forty does.
 */
import type { Tone } from './rows.ts';
import { topFrame, type Mode, type UiState } from './state.ts';
import { GENERAL_KEYS, LOG_KEYS, TEXT_KEYS, viewById } from './views.ts';

export interface HeaderInfo {
  context: string;
  /** The endpoint the view's data comes from. */
  endpoint: string;
  /** `2 (127.0.0.1:7002)`, or `?` before the first status. */
  leader: string;
  term: string;
  /** Trouble with the view's stream ('' when healthy). */
  feed: string;
}

export interface RowData {
  key: string;
  cells: string[];
  tone: Tone;
}

/** The rows of the current view, as the controller resolves them. */
export interface ViewData {
  headers: string[];
  count: number;
  /** Rows [from, to). */
  slice(from: number, to: number): RowData[];
  /** Shown instead of an empty table. */
  empty: string;
}

export interface TextData {
  title: string;
  lines: string[];
  /** Right of the title: `follow on · wrap off · tail 100`. */
  info: string;
}

export interface Line {
  text: string;
  tone: Tone;
  /** Drawn inverted (the cursor; the title bar). */
  inverse?: boolean;
  bold?: boolean;
}

export interface Screen {
  width: number;
  lines: Line[];
}

/** Lines of the screen around the body: header (2), title (1), footer (1). */
export const CHROME = 4;

/** Body height for a terminal of `rows` rows (one row is left free: see the App). */
export function bodyHeight(rows: number): number {
  return Math.max(3, rows - 1 - CHROME);
}

const MAX_COLUMN = 48;
const GAP = 2;

/** Columns a code point takes in a terminal: 2 for East Asian wide and emoji, 0 for combining marks. */
function charWidth(cp: number): number {
  if (cp >= 0x300 && cp <= 0x36f) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

const PLAIN = /^[\x20-\x7e]*$/;

/** Printed width of text (no control characters: see sanitize). */
export function displayWidth(s: string): number {
  if (PLAIN.test(s)) return s.length;
  let w = 0;
  for (const ch of s) w += charWidth(ch.codePointAt(0)!);
  return w;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const ESCAPES = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[@-Z\\-_])/g;

/**
 * Text from the cluster (log lines, config data, messages) made safe to print: escape
 * sequences and control characters are dropped — they would move the cursor or restyle
 * the terminal — and tabs become spaces.
 */
export function sanitize(s: string): string {
  if (!CONTROL.test(s)) return s;
  // eslint-disable-next-line no-control-regex
  return s.replace(ESCAPES, '').replace(/\t/g, '    ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
}

/** Cut to at most `width` columns (an ellipsis marks the cut). */
export function clip(s: string, width: number): string {
  if (displayWidth(s) <= width) return s;
  let out = '';
  let w = 0;
  for (const ch of s) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return width <= 0 ? '' : `${out}…`;
}

/** Cut or pad to exactly `width` columns. */
export function fit(s: string, width: number): string {
  const c = clip(s, width);
  return c + ' '.repeat(Math.max(0, width - displayWidth(c)));
}

function len(s: string): number {
  return displayWidth(s);
}

/** Widths of the columns but the last, from the header and the rows shown (at least `min`). */
export function columnWidths(headers: readonly string[], rows: readonly RowData[], min: readonly number[] = []): number[] {
  const w = headers.map((h, i) => Math.max(len(h), min[i] ?? 0));
  for (const r of rows) r.cells.forEach((c, i) => (w[i] = Math.max(w[i] ?? 0, Math.min(MAX_COLUMN, len(c)))));
  return w;
}

export function formatCells(cells: readonly string[], widths: readonly number[]): string {
  let out = '';
  cells.forEach((c, i) => {
    out += i === cells.length - 1 ? c : fit(c, widths[i] ?? len(c)) + ' '.repeat(GAP);
  });
  return ` ${out}`;
}

/** Splits lines longer than `width` (the logs view's wrap). */
export function wrapLines(lines: readonly string[], width: number): string[] {
  const out: string[] = [];
  const w = Math.max(2, width);
  for (const raw of lines) {
    const l = sanitize(raw);
    if (displayWidth(l) <= w) {
      out.push(l);
      continue;
    }
    let cur = '';
    let cw = 0;
    for (const ch of l) {
      const chw = charWidth(ch.codePointAt(0)!);
      if (cw + chw > w) {
        out.push(cur);
        cur = '';
        cw = 0;
      }
      cur += ch;
      cw += chw;
    }
    out.push(cur);
  }
  return out;
}

function title(s: UiState, data: ViewData): string {
  const f = topFrame(s);
  const def = viewById(f.view);
  const where = f.scope ? f.scope.label : def.kind?.namespaced ? s.namespace || 'all' : '';
  const parts = [`${def.title}${where ? `(${where})` : ''}[${data.count}]`];
  if (f.filter) parts.push(`</${f.filter}>`);
  if (def.sorts.length > 0) parts.push(`sort:${f.sort.column}${f.sort.desc ? '↓' : '↑'}`);
  return parts.join(' ');
}

function promptLine(m: Mode): Line | undefined {
  switch (m.type) {
    case 'command':
      return { text: `:${m.text}▏`, tone: 'normal', bold: true };
    case 'filter':
      return { text: `/${m.text}▏`, tone: 'normal', bold: true };
    case 'scale':
      return { text: `Scale ${m.target.kind.toLowerCase()} ${m.target.name} to replicas: ${m.text}▏  (enter: scale, esc: cancel)`, tone: 'warn', bold: true };
    case 'confirm':
      return { text: `${m.message}  (y: yes, any other key: no)`, tone: 'error', bold: true };
    case 'normal':
      return undefined;
  }
}

/** The help of the current view: its keys, sort keys, and the general ones. */
export function helpLines(s: UiState): string[] {
  const def = viewById(topFrame(s).view);
  const out: string[] = [`${def.title}`];
  for (const b of def.bindings) out.push(`  ${b.key.padEnd(26)}${b.help}`);
  if (def.sorts.length > 0) {
    out.push('', 'Sort (again: reverse)');
    for (const x of def.sorts) out.push(`  ${x.key.padEnd(26)}by ${x.column}`);
  }
  out.push('', 'General');
  for (const [k, h] of GENERAL_KEYS) out.push(`  ${k.padEnd(26)}${h}`);
  out.push('', 'Describe, YAML, logs');
  for (const [k, h] of TEXT_KEYS) out.push(`  ${k.padEnd(26)}${h}`);
  out.push('  x'.padEnd(28) + 'Secrets in YAML: reveal / hide values');
  for (const [k, h] of LOG_KEYS) out.push(`  ${k.padEnd(26)}${h}`);
  return out;
}

/** One-line key hints for the current view. */
function hints(s: UiState): string {
  const def = viewById(topFrame(s).view);
  const keys = def.bindings.map((b) => `<${b.key}> ${b.help.split(' (')[0]!.toLowerCase()}`);
  return [...keys, '<?> help', '<:> command', '</> filter'].join('  ');
}

export interface ScreenInput {
  state: UiState;
  width: number;
  height: number;
  header: HeaderInfo;
  view: ViewData;
  /** The open text view's content, when one is open. */
  text?: TextData;
  /** Column widths seen so far in this view (they only grow, so columns do not jump). */
  minWidths?: number[];
}

export function buildScreen(input: ScreenInput): { screen: Screen; widths: number[] } {
  const { state: s, width } = input;
  const body = bodyHeight(input.height);
  const h = input.header;
  const lines: Line[] = [];
  lines.push({ text: ` Context: ${h.context}   Endpoint: ${h.endpoint}   Leader: ${h.leader}   Term: ${h.term}   Namespace: ${s.namespace || 'all'}`, tone: 'normal', bold: true });
  lines.push(h.feed ? { text: ` ${h.feed}`, tone: 'error' } : { text: ` ${hints(s)}`, tone: 'dim' });
  let widths = input.minWidths ?? [];
  const overlay = s.overlay;
  if (overlay) {
    const t: TextData = overlay.type === 'help' ? { title: `Help: ${viewById(topFrame(s).view).title}`, lines: helpLines(s), info: 'j/k, pgup/pgdn: scroll · esc: close' } : (input.text ?? { title: '', lines: [], info: '' });
    const maxTop = Math.max(0, t.lines.length - body);
    const top = overlay.type === 'logs' && overlay.follow ? maxTop : Math.min(overlay.top, maxTop);
    lines.push({ text: ` ${t.title}  ${t.info}`, tone: 'normal', inverse: true, bold: true });
    const shown = t.lines.slice(top, top + body);
    for (const l of shown) lines.push({ text: ` ${l}`, tone: 'normal' });
    for (let i = shown.length; i < body; i++) lines.push({ text: '', tone: 'normal' });
  } else {
    const f = topFrame(s);
    const v = input.view;
    lines.push({ text: ` ${title(s, v)} `, tone: 'normal', inverse: true, bold: true });
    const page = body - 1;
    const cursor = Math.max(0, Math.min(f.cursor, v.count - 1));
    let top = Math.max(0, Math.min(f.top, v.count - page));
    if (cursor < top) top = cursor;
    if (cursor >= top + page) top = cursor - page + 1;
    const rows = v.slice(top, Math.min(v.count, top + page));
    widths = columnWidths(v.headers, rows, input.minWidths);
    lines.push({ text: formatCells(v.headers, widths), tone: 'normal', bold: true });
    // The cursor is inverted, and marked too, for terminals without colours.
    rows.forEach((r, i) =>
      lines.push(top + i === cursor ? { text: `>${formatCells(r.cells, widths).slice(1)}`, tone: r.tone, inverse: true } : { text: formatCells(r.cells, widths), tone: r.tone }),
    );
    if (rows.length === 0) lines.push({ text: ` ${v.empty}`, tone: 'dim' });
    for (let i = Math.max(rows.length, 1); i < page; i++) lines.push({ text: '', tone: 'normal' });
  }
  const prompt = promptLine(s.mode);
  const crumbs = s.stack.map((f) => (f.scope ? `${viewById(f.view).title}(${f.scope.label})` : viewById(f.view).title)).join(' › ');
  if (prompt) lines.push({ ...prompt, text: ` ${prompt.text}` });
  else if (s.flash) lines.push({ text: ` ${s.flash.text}`, tone: s.flash.level === 'error' ? 'error' : s.flash.level === 'warn' ? 'warn' : 'ok' });
  else lines.push({ text: ` ${crumbs}`, tone: 'dim' });
  // Only inverted lines (bars, the cursor) need their full width painted; trailing
  // spaces elsewhere would only cost the renderer time. Empty lines keep one space so
  // that they keep their row.
  const shaped = lines.map((l) => {
    const text = sanitize(l.text);
    return { ...l, text: l.inverse ? fit(text, width) : clip(text, width) || ' ' };
  });
  return { screen: { width, lines: shaped }, widths };
}
