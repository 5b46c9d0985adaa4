/**
 * `berth explain pod.spec.containers`: the description of a field and of its
 * children, laid out like `kubectl explain`.
 */

import { lookupKind, parseApiVersion } from './kinds.ts';
import { schemaAt, typeLabel, type FieldSchema } from './schema.ts';
import { schemaFor } from './schema-kinds.ts';

export class ExplainError extends Error {
  override readonly name = 'ExplainError';
}

/**
 * Explains a kind or one of its fields. `resource` is a kind, plural or short
 * name, optionally followed by a dotted field path (`pods.spec.containers`);
 * a separate `path` may be given instead. Throws ExplainError for an unknown
 * resource or field, with kubectl's wording.
 */
export function explain(resource: string, path?: string): string {
  let name = resource.trim();
  let fieldPath = path?.trim() ?? '';
  if (!fieldPath) {
    // `deployments.apps.spec` is ambiguous only in theory: try the longest resource prefix that resolves.
    const parts = name.split('.');
    for (let n = parts.length; n >= 1; n--) {
      if (lookupKind(parts.slice(0, n).join('.'))) {
        name = parts.slice(0, n).join('.');
        fieldPath = parts.slice(n).join('.');
        break;
      }
    }
  }
  const info = lookupKind(name);
  if (!info) throw new ExplainError(`the server doesn't have a resource type "${name}"`);
  const root = schemaFor(info.apiVersion, info.kind)!;
  const steps = fieldPath ? fieldPath.split('.').filter(Boolean) : [];

  const lines = [`KIND:       ${info.kind}`, `VERSION:    ${parseApiVersion(info.apiVersion).version}`, ''];
  let target: FieldSchema = root;
  if (steps.length > 0) {
    for (let i = 1; i <= steps.length; i++) {
      const s = schemaAt(root, steps.slice(0, i));
      if (!s) throw new ExplainError(`field "${steps[i - 1]}" does not exist`);
      target = s;
    }
    lines.push(`FIELD: ${steps[steps.length - 1]} <${typeLabel(target)}>${target.required ? ' -required-' : ''}`, '');
  }
  lines.push('DESCRIPTION:', ...wrap(target.description, 4));
  if (target.enum) lines.push(...wrap(`Possible values: ${target.enum.filter((v) => v !== '').join(', ')}`, 4));

  let fieldsOf: FieldSchema | undefined = target;
  while (fieldsOf && (fieldsOf.type === 'list' || fieldsOf.type === 'map')) {
    fieldsOf = fieldsOf.type === 'list' ? fieldsOf.items : fieldsOf.values;
  }
  if (fieldsOf?.type === 'object' && fieldsOf.fields && Object.keys(fieldsOf.fields).length > 0) {
    lines.push('', 'FIELDS:');
    for (const [fieldName, fs] of Object.entries(fieldsOf.fields)) {
      lines.push(`  ${fieldName}\t<${typeLabel(fs)}>${fs.required ? ' -required-' : ''}`);
      lines.push(...wrap(fs.description, 4));
      if (fs.enum) lines.push(...wrap(`Possible values: ${fs.enum.filter((v) => v !== '').join(', ')}`, 4));
      lines.push('');
    }
    while (lines[lines.length - 1] === '') lines.pop();
  }
  return `${lines.join('\n')}\n`;
}

/** Word-wraps text to 80 columns with the given indent. */
function wrap(text: string, indent: number): string[] {
  const width = 80 - indent;
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(' '.repeat(indent) + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(' '.repeat(indent) + line);
  return out;
}
