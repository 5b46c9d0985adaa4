/**
 * An object as YAML for the `y` view: sorted keys as `berth get -o yaml` prints them,
 * managedFields left out (as k9s does), and a Secret's values hidden unless revealed on
 * purpose (`x`), in which case they are shown decoded.
 */
import type { PlainObject } from '../client/client.ts';
import { toYaml } from '../cli/output/format.ts';
import type { Obj } from './store.ts';

/** Secret data values, hidden: the reader sees the keys and sizes only. */
export function maskSecret(o: PlainObject): PlainObject {
  const out: Obj = { ...o };
  for (const field of ['data', 'stringData']) {
    const d = o[field];
    if (d === null || typeof d !== 'object') continue;
    const masked: Obj = {};
    for (const [k, v] of Object.entries(d as Obj)) masked[k] = `<hidden: ${decodedLength(v, field === 'data')} bytes; press x to reveal>`;
    out[field] = masked;
  }
  return out as PlainObject;
}

/** Secret data decoded from base64 where it decodes to text. */
export function revealSecret(o: PlainObject): PlainObject {
  const d = o.data;
  if (d === null || typeof d !== 'object') return o;
  const decoded: Obj = {};
  for (const [k, v] of Object.entries(d as Obj)) decoded[k] = typeof v === 'string' ? decodeText(v) : v;
  return { ...o, data: decoded } as PlainObject;
}

function decodeText(v: string): string {
  const buf = Buffer.from(v, 'base64');
  // Not base64 after all (berth may hold plain text): show what is stored.
  if (buf.toString('base64').replace(/=+$/, '') !== v.replace(/=+$/, '')) return v;
  const text = buf.toString('utf8');
  return text.includes('\uFFFD') ? v : text;
}

function decodedLength(v: unknown, base64: boolean): number {
  if (typeof v !== 'string') return 0;
  return base64 ? Buffer.from(v, 'base64').length : Buffer.byteLength(v);
}

export function yamlLines(o: PlainObject, reveal: boolean): string[] {
  const meta = (o.metadata ?? {}) as Obj;
  let shown: PlainObject = { ...o, metadata: Object.fromEntries(Object.entries(meta).filter(([k]) => k !== 'managedFields')) } as PlainObject;
  if (o.kind === 'Secret') shown = reveal ? revealSecret(shown) : maskSecret(shown);
  return toYaml(shown).replace(/\n$/, '').split('\n');
}
