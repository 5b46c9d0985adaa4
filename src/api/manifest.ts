/**
 * Reading manifests: YAML streams with several documents, JSON, and `List`
 * objects (`kind: List` or any `*List` with `items`), from text, files,
 * directories or stdin.
 *
 * YAML is read with YAML 1.1 scalars, as Kubernetes' decoder does: `yes`/`on`
 * are booleans, `0644` is octal, but timestamps and sexagesimal numbers stay
 * strings. Errors name the source and the document number, and YAML syntax
 * errors their line and column: `web.yaml: document 2: line 4, column 3: ...`.
 * Empty documents (only comments, or nothing between `---` markers) are
 * skipped. Objects are not validated here; see validateObject.
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments, type ScalarTag, type Tags } from 'yaml';
import type { ApiObject } from './types.ts';

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  readonly source: string;
  /** 1-based document number within the source, when known. */
  readonly document: number | undefined;
  /** 1-based line and column of a syntax error, when known. */
  readonly line: number | undefined;
  readonly column: number | undefined;
  constructor(source: string, message: string, where: { document?: number; line?: number; column?: number } = {}) {
    const parts = [source];
    if (where.document !== undefined) parts.push(`document ${where.document}`);
    if (where.line !== undefined) parts.push(`line ${where.line}, column ${where.column ?? 1}`);
    super(`${parts.join(': ')}: ${message}`);
    this.source = source;
    this.document = where.document;
    this.line = where.line;
    this.column = where.column;
  }
}

/** An object with where it came from, for messages that point back at the file. */
export interface ManifestObject {
  readonly object: ApiObject;
  readonly source: string;
  /** 1-based document number within the source. */
  readonly document: number;
  /** 1-based position within a List's items, when the object came from a List. */
  readonly item?: number;
}

const STDIN_SOURCE = '<stdin>';

/**
 * Floats as Kubernetes' YAML decoder (go-yaml v2) reads them. The yaml
 * library's YAML 1.1 float patterns also match words like `e1` or `.`, which
 * must stay strings.
 */
const goFloat: ScalarTag = {
  identify: (v) => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:float',
  test: /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/,
  resolve: (s) => parseFloat(s),
};

/**
 * The YAML 1.1 tags as Kubernetes applies them: no timestamps and no base-60
 * numbers (both stay strings), and go-yaml's float syntax.
 */
function kubernetesTags(tags: Tags): Tags {
  const out: Tags = [];
  let floatAdded = false;
  for (const t of tags) {
    if (typeof t !== 'object') {
      out.push(t);
      continue;
    }
    if (t.tag === 'tag:yaml.org,2002:timestamp') continue;
    if ('format' in t && t.format === 'TIME') continue;
    const isSpecialFloat = 'test' in t && t.test instanceof RegExp && /inf/.test(t.test.source);
    if (t.tag === 'tag:yaml.org,2002:float' && !isSpecialFloat) {
      if (!floatAdded) out.push(goFloat);
      floatAdded = true;
      continue;
    }
    out.push(t);
  }
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array);

/** Parses every object of a manifest text. Throws ManifestError on the first problem. */
export function parseManifests(text: string, source: string): ApiObject[] {
  return parseManifestObjects(text, source).map((m) => m.object);
}

/** Like parseManifests, keeping each object's source, document number and List position. */
export function parseManifestObjects(text: string, source: string): ManifestObject[] {
  const docs = splitDocuments(text, source);
  const out: ManifestObject[] = [];
  docs.forEach(({ value, document }) => {
    if (value === null || value === undefined) return;
    if (!isPlainObject(value)) {
      throw new ManifestError(source, `expected an object, got ${Array.isArray(value) ? 'a list' : typeof value}`, { document });
    }
    const kind = value.kind;
    if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(value.items)) {
      value.items.forEach((item, i) => {
        const where = `item ${i + 1}: `;
        if (!isPlainObject(item)) throw new ManifestError(source, `${where}expected an object, got ${describe(item)}`, { document });
        checkTypeMeta(item, source, document, where);
        out.push({ object: item as unknown as ApiObject, source, document, item: i + 1 });
      });
      return;
    }
    checkTypeMeta(value, source, document, '');
    out.push({ object: value as unknown as ApiObject, source, document });
  });
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v;
}

function checkTypeMeta(o: Record<string, unknown>, source: string, document: number, where: string): void {
  const missing: string[] = [];
  if (typeof o.apiVersion !== 'string' || o.apiVersion === '') missing.push('apiVersion not set');
  if (typeof o.kind !== 'string' || o.kind === '') missing.push('kind not set');
  if (missing.length) throw new ManifestError(source, `${where}${missing.join(', ')}`, { document });
}

interface RawDocument {
  value: unknown;
  document: number;
}

function splitDocuments(text: string, source: string): RawDocument[] {
  const body = text.replace(/^\uFEFF/, '');
  // Plain JSON is read as JSON (exact numbers and error offsets); anything else, including
  // JSON-like YAML flow style with comments and trailing commas, as YAML.
  if (/^\s*[{[]/.test(body)) {
    try {
      return [{ value: JSON.parse(body), document: 1 }];
    } catch {
      // fall through to YAML
    }
  }
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(body, {
    version: '1.1',
    customTags: kubernetesTags,
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    merge: true,
  });
  const docs = Array.isArray(parsed) ? parsed : [];
  if (!Array.isArray(parsed)) {
    // An EmptyStream still carries errors, e.g. for a stray `...` or bad directive.
    const errors = (parsed as { errors?: { message: string; pos: [number, number] }[] }).errors ?? [];
    if (errors.length) {
      const e = errors[0]!;
      const pos = lineCounter.linePos(e.pos[0]);
      throw new ManifestError(source, cleanYamlMessage(e.message), { document: 1, line: pos.line, column: pos.col });
    }
  }
  return docs.map((doc, i) => {
    const document = i + 1;
    const err = doc.errors[0];
    if (err) {
      const pos = lineCounter.linePos(err.pos[0]);
      throw new ManifestError(source, cleanYamlMessage(err.message), { document, line: pos.line, column: pos.col });
    }
    try {
      return { value: doc.toJS({ maxAliasCount: 100 }), document };
    } catch (e) {
      throw new ManifestError(source, (e as Error).message, { document });
    }
  });
}

/** The yaml library's message without its own position suffix. */
function cleanYamlMessage(message: string): string {
  return message.replace(/ at line \d+, column \d+.*$/s, '').trim();
}

/** File names read from a directory: YAML and JSON, in name order (not recursive). */
const MANIFEST_FILE = /\.(ya?ml|json)$/i;

/**
 * Reads manifests from a file, from every *.yaml, *.yml and *.json file of a
 * directory (sorted by name), or from standard input when the path is `-`.
 */
export async function readManifests(pathOrDir: string, opts: { stdin?: NodeJS.ReadableStream } = {}): Promise<ApiObject[]> {
  return (await readManifestObjects(pathOrDir, opts)).map((m) => m.object);
}

/** Like readManifests, keeping each object's origin. */
export async function readManifestObjects(
  pathOrDir: string,
  opts: { stdin?: NodeJS.ReadableStream } = {},
): Promise<ManifestObject[]> {
  if (pathOrDir === '-') return parseManifestObjects(await readStream(opts.stdin ?? process.stdin), STDIN_SOURCE);
  let info;
  try {
    info = await stat(pathOrDir);
  } catch (e) {
    throw new ManifestError(pathOrDir, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message);
  }
  if (info.isDirectory()) {
    const names = (await readdir(pathOrDir)).filter((n) => MANIFEST_FILE.test(n)).sort();
    const out: ManifestObject[] = [];
    for (const name of names) {
      const file = join(pathOrDir, name);
      if (!(await stat(file)).isFile()) continue;
      out.push(...parseManifestObjects(await readFile(file, 'utf8'), file));
    }
    return out;
  }
  return parseManifestObjects(await readFile(pathOrDir, 'utf8'), pathOrDir);
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
