/**
 * The TUI's state, as plain data: a stack of views (drill-downs push, `esc` pops), the
 * namespace, what the keyboard is doing (browsing, typing a command, a filter, a replica
 * count, answering a question), an open text view (help, describe, YAML, logs) and a
 * message. The reducer (reducer.ts) is the only thing that makes a new one.
 */
import type { PlainObject } from '../client/client.ts';
import { viewById } from './views.ts';

/** What a drilled-down view is restricted to. */
export interface Scope {
  type: 'owner' | 'selector' | 'node' | 'pod';
  /** For the title: `deployment shop/web`. */
  label: string;
  namespace?: string;
  /** owner: the owner's uid. */
  uid?: string;
  /** selector: a Service's selector. */
  selector?: Record<string, string>;
  /** node: the node's name. */
  node?: string;
  /** pod: the pod's key (the Containers view). */
  pod?: string;
}

export interface ViewFrame {
  view: string;
  scope?: Scope;
  /** The `/` filter's text ('' for none). */
  filter: string;
  sort: { column: string; desc: boolean };
  /** Selected row. */
  cursor: number;
  /** First row on screen. */
  top: number;
  /** The selected row's key: the selection follows its object as rows move. */
  selectedKey?: string;
}

/** An object an action applies to. */
export interface Target {
  /** CamelCase kind: `Deployment`. */
  kind: string;
  namespace: string;
  name: string;
  key: string;
}

export type Effect =
  | { type: 'scale'; target: Target; replicas: number }
  | { type: 'restart'; target: Target }
  | { type: 'rollback'; target: Target }
  | { type: 'delete'; target: Target }
  | { type: 'cordon'; target: Target; unschedulable: boolean }
  | { type: 'transfer'; id: number }
  | { type: 'logs'; target: Target; container: string; tail: number; timestamps: boolean }
  | { type: 'stopLogs' }
  | { type: 'quit' };

export type Mode =
  | { type: 'normal' }
  | { type: 'command'; text: string }
  | { type: 'filter'; text: string }
  | { type: 'scale'; text: string; target: Target }
  | { type: 'confirm'; message: string; effect: Effect };

export interface LogsOverlay {
  type: 'logs';
  target: Target;
  container: string;
  top: number;
  /** Keep the view at the newest line. */
  follow: boolean;
  wrap: boolean;
  timestamps: boolean;
  /** Lines asked for when the stream (re)starts; -1 for all. */
  tail: number;
}

export type Overlay =
  | { type: 'help'; top: number }
  | { type: 'describe'; target: Target; top: number }
  | { type: 'yaml'; target: Target; top: number; reveal: boolean }
  | { type: 'member'; id: number; top: number }
  | LogsOverlay;

export interface Flash {
  text: string;
  level: 'info' | 'warn' | 'error';
}

export interface UiState {
  stack: ViewFrame[];
  /** '' for every namespace. */
  namespace: string;
  mode: Mode;
  overlay?: Overlay;
  flash?: Flash;
  quit: boolean;
}

/** The row under the cursor, as the controller resolves it. */
export interface Selected {
  key: string;
  /** The object (objects views; the pod in the Containers view). */
  obj?: PlainObject;
  /** Containers view. */
  container?: string;
  /** Cluster view. */
  memberId?: number;
  /** Cluster view: whether that replica leads. */
  isLeader?: boolean;
}

/** What the reducer needs to know of the screen and the rows. */
export interface KeyContext {
  /** Rows of the current view. */
  rows: number;
  /** Table rows on screen. */
  pageSize: number;
  /** Lines on screen in a text view. */
  textPage: number;
  /** Lines of the open text view. */
  textLines: number;
  keyAt(i: number): string | undefined;
  selected: Selected | undefined;
}

export const DEFAULT_TAIL = 100;

export function newFrame(view: string, scope?: Scope): ViewFrame {
  const def = viewById(view);
  return { view, ...(scope ? { scope } : {}), filter: '', sort: { ...def.defaultSort }, cursor: 0, top: 0 };
}

export function initialState(view = 'pods', namespace = 'default'): UiState {
  return { stack: [newFrame(view)], namespace, mode: { type: 'normal' }, quit: false };
}

export function topFrame(s: UiState): ViewFrame {
  return s.stack[s.stack.length - 1]!;
}

/** The state with the top frame replaced. */
export function withTop(s: UiState, f: Partial<ViewFrame>): UiState {
  const stack = s.stack.slice();
  stack[stack.length - 1] = { ...topFrame(s), ...f };
  return { ...s, stack };
}

/** Keeps the cursor on a row and on screen. */
export function clampView(cursor: number, top: number, rows: number, page: number): { cursor: number; top: number } {
  const c = rows === 0 ? 0 : Math.max(0, Math.min(cursor, rows - 1));
  const p = Math.max(1, page);
  let t = Math.max(0, Math.min(top, Math.max(0, rows - p)));
  if (c < t) t = c;
  if (c >= t + p) t = c - p + 1;
  return { cursor: c, top: t };
}
