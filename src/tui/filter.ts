/**
 * The `/` filter, as k9s reads it: a case-insensitive regular expression over a row's
 * text (`fred|blee`), `!` in front to keep what does not match, or `-l SELECTOR` for a
 * label selector (`-l app=web,tier!=db`). Text that is not a valid expression is matched
 * literally, so typing never breaks the view.
 */
import { parseSelector, type Selector } from '../api/index.ts';

export type Filter =
  | { type: 'none' }
  | { type: 'text'; re: RegExp; invert: boolean }
  | { type: 'labels'; selector: Selector }
  | { type: 'invalid'; message: string };

export function parseFilter(text: string): Filter {
  const t = text.trim();
  if (t === '') return { type: 'none' };
  if (t === '-l' || t.startsWith('-l ')) {
    const sel = t.slice(2).trim();
    if (sel === '') return { type: 'none' };
    try {
      return { type: 'labels', selector: parseSelector(sel) };
    } catch (e) {
      return { type: 'invalid', message: `label selector: ${(e as Error).message}` };
    }
  }
  let invert = false;
  let body = t;
  if (body.startsWith('!')) {
    invert = true;
    body = body.slice(1).trim();
    if (body === '') return { type: 'none' };
  }
  let re: RegExp;
  try {
    re = new RegExp(body, 'i');
  } catch {
    re = new RegExp(body.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
  }
  return { type: 'text', re, invert };
}

/**
 * Whether a row passes. `text` is called only for text filters (building a row's text
 * costs more than reading its labels).
 */
export function filterAccepts(f: Filter, text: () => string, labels: () => Readonly<Record<string, string>> | undefined): boolean {
  switch (f.type) {
    case 'none':
    case 'invalid':
      return true;
    case 'labels':
      return f.selector.matches(labels());
    case 'text':
      return f.re.test(text()) !== f.invert;
  }
}
