/**
 * A strict msgpack decoder that builds compact, long-lived values.
 *
 * Why not msgpackr's unpack: the store keeps every object in memory for the life of the
 * process, and msgpackr's strings are often slices of one large string holding the whole
 * record (its native string extraction), so each kept object pins its entire source; its
 * objects are also built one property at a time. Measured on 100,000 realistic pods
 * (2 KB of msgpack each), msgpackr-decoded frozen objects took ~6 KB per pod of heap;
 * this decoder, with flat strings and repeated short strings shared, ~2.5 KB.
 *
 * Encoding stays with msgpackr (useRecords: false: plain maps and arrays). This decoder
 * reads exactly what that produces for JSON-shaped values: nil, booleans, integers,
 * floats, strings, binary, arrays, maps with string keys, msgpackr's `undefined`
 * (fixext 1, type 0) and timestamps (ext −1, read as an ISO string). Anything else, or
 * truncated or trailing bytes, is an error that says where.
 */

import { putData } from './object-util.ts';

export class MsgpackDecodeError extends Error {
  override name = 'MsgpackDecodeError';
}

/** Deeper nesting than this is refused (a hostile entry must not overflow the stack). */
const MAX_DEPTH = 200;
/**
 * Strings of up to this many bytes go through a direct-mapped cache keyed by their bytes:
 * a hit returns the string already made (no decoding, and repeated values such as keys,
 * "True", image names and timestamps share one string in memory).
 */
const CACHE_MAX_BYTES = 48;
const CACHE_SLOTS = 1 << 13;
const cacheBytes: (Uint8Array | undefined)[] = new Array(CACHE_SLOTS);
const cacheStrings: string[] = new Array(CACHE_SLOTS);

/**
 * Object shapes. A map's keys, in order, walk a trie; a shape seen often enough gets a
 * compiled maker that builds the object as one literal, which V8 lays out with exactly
 * that many in-object fields (an object grown key by key carries spare slots and a
 * separate property array: measured ~40% more heap for a pod). The trie is bounded, so
 * maps with ever-new key sets (labels, annotations, data) fall back to plain building.
 */
type Maker = (v: unknown[], b: number) => Record<string, unknown>;
interface Shape {
  next: Map<string, Shape> | undefined;
  hits: number;
  maker: Maker | undefined;
}
const MAX_SHAPE_NODES = 20_000;
const MAX_SHAPE_KEYS = 24;
const COMPILE_AFTER_HITS = 4;
const shapeRoot: Shape = { next: undefined, hits: 0, maker: undefined };
let shapeNodes = 0;

function shapeOf(keys: string[], base: number, n: number): Shape | undefined {
  let node = shapeRoot;
  for (let i = base; i < base + n; i++) {
    const k = keys[i]!;
    let child = node.next?.get(k);
    if (child === undefined) {
      if (shapeNodes >= MAX_SHAPE_NODES) return undefined;
      shapeNodes++;
      child = { next: undefined, hits: 0, maker: undefined };
      (node.next ??= new Map()).set(k, child);
    }
    node = child;
  }
  return node;
}

/** False once code generation turned out to be disallowed (node --disallow-code-generation-from-strings). */
let canCompile = true;

function compileMaker(keys: string[], base: number, n: number): Maker | undefined {
  if (!canCompile) return undefined;
  const fields = [];
  for (let i = 0; i < n; i++) fields.push(`${JSON.stringify(keys[base + i])}: v[b + ${i}]`);
  try {
    return new Function('v', 'b', `return { ${fields.join(', ')} };`) as Maker;
  } catch {
    canCompile = false;
    return undefined;
  }
}

class Reader {
  pos = 0;
  private readonly buf: Buffer;
  private readonly view: DataView;
  private readonly end: number;

  constructor(data: Uint8Array) {
    this.buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.end = data.byteLength;
  }

  fail(what: string): never {
    throw new MsgpackDecodeError(`msgpack: ${what} at byte ${this.pos}`);
  }

  private need(n: number): void {
    if (this.pos + n > this.end) this.fail(`truncated: need ${n} more bytes`);
  }

  private u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  private str(n: number): string {
    this.need(n);
    const buf = this.buf;
    const start = this.pos;
    this.pos += n;
    if (n > CACHE_MAX_BYTES) return buf.toString('utf8', start, start + n);
    let h = 0x811c9dc5 ^ n;
    let ascii = true;
    for (let i = start; i < start + n; i++) {
      const c = buf[i]!;
      if (c >= 0x80) ascii = false;
      h = Math.imul(h ^ c, 16777619);
    }
    const slot = (h ^ (h >>> 15)) & (CACHE_SLOTS - 1);
    const known = cacheBytes[slot];
    if (known !== undefined && known.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (known[i] !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return cacheStrings[slot]!;
    }
    const s = ascii && n <= 16 ? String.fromCharCode.apply(null, buf.subarray(start, start + n) as unknown as number[]) : buf.toString('utf8', start, start + n);
    cacheBytes[slot] = Uint8Array.prototype.slice.call(buf, start, start + n);
    cacheStrings[slot] = s;
    return s;
  }

  private bin(n: number): Uint8Array {
    this.need(n);
    const b = new Uint8Array(n);
    b.set(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }

  private key(): string {
    const b = this.u8();
    if ((b & 0xe0) === 0xa0) return this.str(b & 0x1f);
    if (b === 0xd9) return this.str(this.u8());
    if (b === 0xda) return this.str(this.u16());
    if (b === 0xdb) return this.str(this.u32());
    this.pos--;
    return this.fail(`map key is not a string (type byte 0x${b.toString(16)})`);
  }

  /**
   * Keys and values of the maps being read, innermost last: one pair of arrays reused for
   * every map instead of two new arrays per map (less garbage while loading 100k objects).
   */
  private static keys: string[] = [];
  private static vals: unknown[] = [];
  private static top = 0;

  private map(n: number, depth: number): Record<string, unknown> {
    if (n > this.end - this.pos) this.fail(`map of ${n} entries exceeds the input`);
    if (n === 0) return {};
    const keys = Reader.keys;
    const vals = Reader.vals;
    const base = Reader.top;
    Reader.top += n;
    try {
      let plain = n > MAX_SHAPE_KEYS;
      for (let i = base; i < base + n; i++) {
        const k = this.key();
        // A literal "__proto__" key must become an own property, never the prototype; a
        // repeated key would make the literal's field count wrong. Both build plainly.
        if (k === '__proto__') plain = true;
        keys[i] = k;
        vals[i] = this.value(depth + 1);
      }
      if (!plain) {
        const shape = shapeOf(keys, base, n);
        if (shape !== undefined) {
          if (shape.maker === undefined && ++shape.hits >= COMPILE_AFTER_HITS) {
            if (new Set(keys.slice(base, base + n)).size === n) shape.maker = compileMaker(keys, base, n);
            // Repeated keys (or no code generation): never try this shape again.
            if (shape.maker === undefined) shape.hits = -Infinity;
          }
          if (shape.maker !== undefined) return shape.maker(vals, base);
        }
      }
      const o: Record<string, unknown> = {};
      for (let i = base; i < base + n; i++) {
        putData(o, keys[i]!, vals[i]);
      }
      return o;
    } finally {
      // Drop references so the scratch arrays do not keep decoded values alive.
      for (let i = base; i < base + n; i++) vals[i] = undefined;
      Reader.top = base;
    }
  }

  private array(n: number, depth: number): unknown[] {
    // Elements cannot outnumber the remaining bytes: refuse absurd lengths before allocating.
    if (n > this.end - this.pos) this.fail(`array of ${n} items exceeds the input`);
    const a = new Array<unknown>(n);
    for (let i = 0; i < n; i++) a[i] = this.value(depth + 1);
    return a;
  }

  private ext(n: number): unknown {
    const type = this.view.getInt8((this.need(1), this.pos++));
    if (type === 0 && n === 1) {
      this.need(1);
      this.pos++;
      return undefined; // msgpackr's encoding of undefined
    }
    if (type === -1) {
      let ms: number;
      if (n === 4) ms = this.u32() * 1000;
      else if (n === 8) {
        const hi = this.u32();
        const lo = this.u32();
        ms = (hi & 0x3) * 0x100000000 * 1000 + lo * 1000 + Math.floor(hi / 4) / 1e6;
      } else if (n === 12) {
        const nanos = this.u32();
        this.need(8);
        ms = Number(this.view.getBigInt64(this.pos)) * 1000 + nanos / 1e6;
        this.pos += 8;
      } else return this.fail(`timestamp of ${n} bytes`);
      return new Date(ms).toISOString();
    }
    return this.fail(`unsupported ext type ${type}`);
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    const b = this.u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b <= 0x8f) return this.map(b & 0x0f, depth);
    if (b <= 0x9f) return this.array(b & 0x0f, depth);
    if (b <= 0xbf) return this.str(b & 0x1f);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(this.u8());
      case 0xc5:
        return this.bin(this.u16());
      case 0xc6:
        return this.bin(this.u32());
      case 0xc7:
        return this.ext(this.u8());
      case 0xc8:
        return this.ext(this.u16());
      case 0xc9:
        return this.ext(this.u32());
      case 0xca: {
        this.need(4);
        const v = this.view.getFloat32(this.pos);
        this.pos += 4;
        return v;
      }
      case 0xcb: {
        this.need(8);
        const v = this.view.getFloat64(this.pos);
        this.pos += 8;
        return v;
      }
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf: {
        this.need(8);
        const v = this.view.getBigUint64(this.pos);
        this.pos += 8;
        return Number(v);
      }
      case 0xd0:
        return this.view.getInt8((this.need(1), this.pos++));
      case 0xd1: {
        this.need(2);
        const v = this.view.getInt16(this.pos);
        this.pos += 2;
        return v;
      }
      case 0xd2: {
        this.need(4);
        const v = this.view.getInt32(this.pos);
        this.pos += 4;
        return v;
      }
      case 0xd3: {
        this.need(8);
        const v = this.view.getBigInt64(this.pos);
        this.pos += 8;
        return Number(v);
      }
      case 0xd4:
        return this.ext(1);
      case 0xd5:
        return this.ext(2);
      case 0xd6:
        return this.ext(4);
      case 0xd7:
        return this.ext(8);
      case 0xd8:
        return this.ext(16);
      case 0xd9:
        return this.str(this.u8());
      case 0xda:
        return this.str(this.u16());
      case 0xdb:
        return this.str(this.u32());
      case 0xdc:
        return this.array(this.u16(), depth);
      case 0xdd:
        return this.array(this.u32(), depth);
      case 0xde:
        return this.map(this.u16(), depth);
      case 0xdf:
        return this.map(this.u32(), depth);
      default:
        this.pos--;
        return this.fail(`invalid type byte 0x${b.toString(16)}`);
    }
  }

  done(): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} trailing bytes`);
  }
}

/** Decode one msgpack value that fills `data` exactly. Throws {@link MsgpackDecodeError}. */
export function decodeMsgpack(data: Uint8Array): unknown {
  const r = new Reader(data);
  const v = r.value(0);
  r.done();
  return v;
}
