/**
 * `berth edit TYPE NAME`: the object as YAML in $KUBE_EDITOR, else $EDITOR, else vi; what
 * is saved replaces it (conditional on the version that was opened), as kubectl edit:
 *
 *   - nothing changed: "Edit cancelled, no changes made."
 *   - an empty file: "Edit cancelled, saved file was empty."
 *   - invalid YAML or an invalid object: the file is reopened with the errors at the top;
 *     saving it unchanged again gives up and keeps the file
 *   - someone else changed the object meanwhile: the changes are applied to the latest
 *     version, which is reopened for a look (saving it retries)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { parse as parseYaml } from 'yaml';
import type { KindInfo } from '../../api/index.ts';
import { ApiCallError, type BerthClient, type PlainObject } from '../../client/client.ts';
import { bool, parseFlags, str } from '../flags.ts';
import { CliError, formatError, parseInvalid } from '../output/errors.ts';
import { objectRef, qualifiedPlural, sortKeys, toJson, toYaml } from '../output/format.ts';
import { connect, GLOBAL_FLAGS, GLOBAL_HELP, parseResourceArgs, type Io } from './common.ts';
import { listAll, metaOf, nameOf, semanticEqual } from './workloads.ts';

export const EDIT_USAGE = `Edit an object with your editor ($KUBE_EDITOR, else $EDITOR, else vi).

Usage:
  berth edit TYPE NAME [flags]
  berth edit TYPE/NAME [flags]

Flags:
  -o, --output FORMAT          yaml (default) or json: the format to edit in
  -l, --selector SELECTOR      edit every object matching a label selector, one after another
${GLOBAL_HELP}`;

const HEADER = `# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit. If an error occurs while saving this file will be
# reopened with the relevant failures.
#
`;

type Obj = Record<string, unknown>;

/** Text without the lines that are comments. */
export function stripComments(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n');
}

/** An RFC 7386 merge patch turning `from` into `to` (lists are replaced whole). */
export function mergePatch(from: unknown, to: unknown): unknown {
  const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObj(from) || !isObj(to)) return to;
  const patch: Obj = {};
  for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (!(k in from)) patch[k] = v;
    else if (JSON.stringify(sortKeys(from[k])) !== JSON.stringify(sortKeys(v))) {
      const sub = mergePatch(from[k], v);
      if (!(isObj(sub) && Object.keys(sub).length === 0)) patch[k] = sub;
    }
  }
  return patch;
}

/** Applies an RFC 7386 merge patch. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObj(patch)) return patch;
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** Runs the editor on a file; resolves when it exits (rejects when it cannot be run or fails). */
function runEditor(editor: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', `${editor} "$1"`, 'editor', file], { stdio: 'inherit' });
    child.once('error', () => reject(new CliError(`there was a problem with the editor "${editor}"`)));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new CliError(`there was a problem with the editor "${editor}"`))));
  });
}

function headerWith(reasons: string[]): string {
  if (reasons.length === 0) return HEADER;
  return `${HEADER}${reasons.map((r) => `${r.split('\n').map((l) => `# ${l}`.trimEnd()).join('\n')}\n#\n`).join('')}`;
}

export async function runEdit(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { ...GLOBAL_FLAGS, output: { type: 'string', short: 'o' }, selector: { type: 'string', short: 'l' } });
  if (bool(f, 'help')) {
    io.write(EDIT_USAGE);
    return 0;
  }
  const format = str(f, 'output') ?? 'yaml';
  if (format !== 'yaml' && format !== 'json') throw new CliError(`the edit mode "${format}" is not supported: yaml or json`);
  if (f._.length === 0) throw new CliError('You must specify the type of resource to edit');
  const requests = parseResourceArgs(f._);
  const selector = str(f, 'selector') ?? '';
  if (requests.some((r) => r.name === undefined) && !selector) throw new CliError('resource(s) were provided, but no name was specified');
  const editor = io.env.KUBE_EDITOR || io.env.EDITOR || 'vi';
  const session = await connect(f, io);
  let failed = false;
  try {
    for (const r of requests) {
      const names = r.name !== undefined ? [r.name] : (await listAll(session.client, r.info.plural, { namespace: session.namespace, labelSelector: selector })).map(nameOf);
      for (const name of names) {
        const ns = r.info.namespaced ? session.namespace : '';
        try {
          if (!(await editOne(session.client, r.info, ns, name, editor, format, io))) failed = true;
        } catch (e) {
          failed = true;
          io.error(formatError(e, { kind: r.info, endpoints: session.client.endpoints }));
        }
      }
    }
  } finally {
    session.client.close();
  }
  return failed ? 1 : 0;
}

/** One object's edit session; false when it ended in an error (already printed). */
async function editOne(client: BerthClient, info: KindInfo, namespace: string, name: string, editor: string, format: string, io: Io): Promise<boolean> {
  const serialize = (o: unknown) => (format === 'json' ? toJson(o) : toYaml(o));
  let original: PlainObject = await client.get(info.plural, namespace, name);
  const dir = mkdtempSync(join(tmpdir(), 'berth-edit-'));
  const file = join(dir, `${info.singular}-${name}.${format === 'json' ? 'json' : 'yaml'}`);
  let keepFile = false;
  let reasons: string[] = [];
  let body = serialize(original);
  // After an error the user must change something, or the edit gives up.
  let previous: string | undefined;
  try {
    for (;;) {
      writeFileSync(file, headerWith(reasons) + body);
      await runEditor(editor, file);
      const edited = readFileSync(file, 'utf8');
      const content = stripComments(edited);
      if (previous !== undefined && content === previous) {
        keepFile = true;
        io.error(`A copy of your changes has been stored to "${file}"\n`);
        io.error('error: Edit cancelled, no valid changes were saved.\n');
        return false;
      }
      previous = undefined;
      if (content.trim() === '') {
        io.error('Edit cancelled, saved file was empty.\n');
        return true;
      }
      let parsed: unknown;
      try {
        parsed = format === 'json' ? JSON.parse(content) : parseYaml(content, { version: '1.1' });
      } catch (e) {
        reasons = [`The edited file had a syntax error: ${(e as Error).message.split('\n')[0]}`];
        body = content.replace(/^\n+/, '');
        previous = content;
        continue;
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        reasons = ['The edited file had a syntax error: the object must be a map'];
        body = content.replace(/^\n+/, '');
        previous = content;
        continue;
      }
      const obj = parsed as PlainObject;
      const opened = format === 'json' ? JSON.parse(serialize(original)) : parseYaml(serialize(original), { version: '1.1' });
      if (semanticEqual(obj, opened)) {
        io.error('Edit cancelled, no changes made.\n');
        return true;
      }
      const m = metaOf(obj);
      if (obj.apiVersion !== original.apiVersion || obj.kind !== original.kind || m.name !== name) {
        reasons = ['At least one of apiVersion, kind and name was changed'];
        body = content.replace(/^\n+/, '');
        previous = content;
        continue;
      }
      try {
        await client.update(obj);
        io.write(`${objectRef(info, name)} edited\n`);
        return true;
      } catch (e) {
        if (!(e instanceof ApiCallError)) throw e;
        if (e.code === status.INVALID_ARGUMENT) {
          const inv = parseInvalid(e.message);
          io.error(`error: ${qualifiedPlural(info)} "${name}" is invalid\n`);
          reasons = [`${qualifiedPlural(info)} "${name}" was not valid:\n${(inv?.errors ?? [e.message]).map((x) => `* ${x}`).join('\n')}`];
          body = content.replace(/^\n+/, '');
          previous = content;
          continue;
        }
        if (e.code === status.ABORTED) {
          // Someone else wrote the object since it was opened: put these changes on top of
          // what is there now and let the user look again.
          io.error(formatError(e, { kind: info }));
          const latest = await client.get(info.plural, namespace, name);
          const merged = applyMergePatch(latest, mergePatch(original, obj)) as PlainObject;
          (merged.metadata as Obj).resourceVersion = metaOf(latest).resourceVersion;
          original = latest;
          reasons = [
            `${qualifiedPlural(info)} "${name}" was changed on the server while you edited it:\nyour changes are applied to the latest version below; save to try again, or exit without\nchanges to cancel.`,
          ];
          body = serialize(merged);
          continue;
        }
        if (e.code === status.NOT_FOUND) {
          keepFile = true;
          io.error(`error: ${qualifiedPlural(info)} "${name}" could not be found on the server\n`);
          io.error(`The edits you made on deleted resources have been saved to "${file}"\n`);
          return false;
        }
        throw e;
      }
    }
  } finally {
    if (!keepFile) rmSync(dir, { recursive: true, force: true });
  }
}
