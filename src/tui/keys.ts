/**
 * Keystrokes as the model sees them: one name per key — `a`, `N`, `:`, `enter`, `esc`,
 * `up`, `pgdn`, `ctrl-d` — whatever the terminal sent. ink hands a run of ordinary
 * characters typed quickly (or pasted, or sent by tmux) over as one string; it is split
 * here into one key per character so that `:pods⏎` works however it arrives.
 */
import type { Key } from 'ink';

export type KeyName = string;

const SPECIAL: [keyof Key, KeyName][] = [
  ['upArrow', 'up'],
  ['downArrow', 'down'],
  ['leftArrow', 'left'],
  ['rightArrow', 'right'],
  ['pageUp', 'pgup'],
  ['pageDown', 'pgdn'],
  ['home', 'home'],
  ['end', 'end'],
  ['return', 'enter'],
  ['escape', 'esc'],
  ['tab', 'tab'],
  ['backspace', 'backspace'],
  ['delete', 'delete'],
];

/** The key of one raw character (control characters included). */
export function charKey(ch: string): KeyName {
  const code = ch.codePointAt(0) ?? 0;
  if (ch === '\r' || ch === '\n') return 'enter';
  if (ch === '\t') return 'tab';
  if (ch === '\u007f' || ch === '\b') return 'backspace';
  if (ch === '\u001b') return 'esc';
  if (code > 0 && code < 27) return `ctrl-${String.fromCharCode(code + 96)}`;
  return ch;
}

/** ink's (input, key) as key names, in order. */
export function keyNames(input: string, key: Partial<Key>): KeyName[] {
  for (const [flag, name] of SPECIAL) {
    if (key[flag]) return [name];
  }
  if (key.ctrl && input.length === 1 && /[a-z]/.test(input)) return [`ctrl-${input}`];
  if (input === '') return [];
  return [...input].map(charKey);
}
