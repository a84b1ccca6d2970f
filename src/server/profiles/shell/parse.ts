/**
 * Cumulocity's LwM2M device-shell syntax (the "Shell" tab of an LwM2M device): one command per line,
 *
 *   read /3/0/0                      observe /3/0/9          cancelobservation /3/0/9
 *   execute /3/0/4 [args]            write /1/0/1 300        create /3303[/1] [5700=21.5 5701=Cel]
 *   delete /3303/1                   discover /3             writeattr /3/0/9 pmin=1 pmax=60 [gt= lt= st= epmin= epmax=]
 *   fwupdate name;version;url
 *
 * Command names are case-insensitive; blank lines and `#` comments are skipped. Pure: no I/O. A bad
 * line is a {@link ShellSyntaxError} with its 1-based line and column and a stable code.
 */
import { LwM2MError } from '../../../core/errors.js';
import { parsePath, type LwM2MPath } from '../../../core/path.js';
import type { AttributeChanges } from '../../operations/write-attributes.js';

export type ShellCommand =
  | { readonly op: 'read' | 'observe' | 'cancelobservation' | 'discover' | 'delete'; readonly path: LwM2MPath; readonly line: number }
  | { readonly op: 'execute'; readonly path: LwM2MPath; readonly args: string; readonly line: number }
  | { readonly op: 'write'; readonly path: LwM2MPath; readonly value: string; readonly line: number }
  | { readonly op: 'create'; readonly objectId: number; readonly instanceId?: number; readonly values: Readonly<Record<string, string>>; readonly line: number }
  | { readonly op: 'writeattr'; readonly path: LwM2MPath; readonly attributes: AttributeChanges; readonly line: number }
  | { readonly op: 'fwupdate'; readonly name: string; readonly version: string; readonly url: string; readonly line: number };

export type ShellOperation = ShellCommand['op'];

export const SHELL_OPERATIONS: readonly ShellOperation[] = [
  'read', 'observe', 'cancelobservation', 'execute', 'write', 'create', 'delete', 'discover', 'writeattr', 'fwupdate',
];

/** At most this many commands per shell request. */
export const MAX_SHELL_COMMANDS = 64;
/** At most this many characters per line. */
export const MAX_SHELL_LINE = 4096;

export class ShellSyntaxError extends LwM2MError {
  constructor(readonly line: number, readonly column: number, detail: string) {
    super('BAD_REQUEST', detail, { location: `${line}:${column}` });
  }
}

interface Token {
  readonly text: string;
  /** 0-based column. */
  readonly col: number;
}

function tokens(line: string): Token[] {
  const out: Token[] = [];
  const re = /\S+/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push({ text: m[0], col: m.index });
  return out;
}

const ATTRS = new Set(['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax']);
const INT_ATTRS = new Set(['pmin', 'pmax', 'epmin', 'epmax']);
const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/** Parses one line (1-based `lineNo` for errors); undefined for a blank or comment line. */
export function parseShellLine(line: string, lineNo = 1): ShellCommand | undefined {
  if (line.length > MAX_SHELL_LINE) throw new ShellSyntaxError(lineNo, MAX_SHELL_LINE + 1, `line longer than ${MAX_SHELL_LINE} characters`);
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const toks = tokens(line);
  const [cmd, ...rest] = toks as [Token, ...Token[]];
  const err = (t: Token | undefined, msg: string): ShellSyntaxError => new ShellSyntaxError(lineNo, (t?.col ?? line.length) + 1, msg);
  const op = cmd.text.toLowerCase();
  const pathAt = (t: Token | undefined, what = 'a path such as /3/0/0'): LwM2MPath => {
    if (!t) throw err(undefined, `${op}: missing ${what}`);
    try {
      return parsePath(t.text.startsWith('/') ? t.text : `/${t.text}`);
    } catch (e) {
      throw err(t, `${op}: bad path ${JSON.stringify(t.text)}${e instanceof Error ? ` (${e.message})` : ''}`);
    }
  };
  const noMore = (from: number): void => {
    const extra = rest[from];
    if (extra) throw err(extra, `${op}: unexpected ${JSON.stringify(extra.text)}`);
  };
  /** The rest of the line after token `i` (verbatim, inner spaces kept). */
  const tail = (i: number): string => {
    const t = rest[i];
    return t ? line.slice(t.col).trimEnd() : '';
  };
  switch (op) {
    case 'read': case 'observe': case 'cancelobservation': case 'discover': case 'delete': {
      const path = pathAt(rest[0]);
      if (op === 'delete' && path.isRoot()) throw err(rest[0], 'delete: the root path cannot be deleted');
      noMore(1);
      return { op, path, line: lineNo };
    }
    case 'execute': {
      const path = pathAt(rest[0], 'a resource path such as /3/0/4');
      if (path.resourceId === undefined || path.resourceInstanceId !== undefined) throw err(rest[0], 'execute: the path must name a resource (/object/instance/resource)');
      return { op, path, args: tail(1), line: lineNo };
    }
    case 'write': {
      const path = pathAt(rest[0], 'a resource path such as /1/0/1');
      if (path.resourceId === undefined) throw err(rest[0], 'write: the path must name a resource');
      if (!rest[1]) throw err(undefined, 'write: missing the value');
      return { op, path, value: tail(1), line: lineNo };
    }
    case 'create': {
      const path = pathAt(rest[0], 'an object path such as /3303 or /3303/1');
      if (path.objectId === undefined || path.resourceId !== undefined) throw err(rest[0], 'create: the path must name an object or an object instance');
      const values: Record<string, string> = {};
      for (const t of rest.slice(1)) {
        const eq = t.text.indexOf('=');
        const id = t.text.slice(0, eq);
        if (eq <= 0 || !/^[0-9]{1,5}(?:\/[0-9]{1,5})?$/.test(id)) throw err(t, `create: expected resourceId=value, got ${JSON.stringify(t.text)}`);
        if (Object.hasOwn(values, id)) throw err(t, `create: resource ${id} given twice`);
        values[id] = t.text.slice(eq + 1);
      }
      return { op, objectId: path.objectId, ...(path.instanceId !== undefined ? { instanceId: path.instanceId } : {}), values, line: lineNo };
    }
    case 'writeattr': {
      const path = pathAt(rest[0]);
      if (path.objectId === undefined) throw err(rest[0], 'writeattr: the path must name an object, instance or resource');
      const attributes: { -readonly [K in keyof AttributeChanges]: AttributeChanges[K] } = {};
      for (const t of rest.slice(1)) {
        const m = /^([a-zA-Z]+)=(.*)$/.exec(t.text);
        const name = m?.[1]?.toLowerCase();
        if (!m || name === undefined || !ATTRS.has(name)) throw err(t, `writeattr: expected name=value with a name of ${[...ATTRS].join(', ')}, got ${JSON.stringify(t.text)}`);
        const key = name as keyof AttributeChanges;
        if (Object.hasOwn(attributes, key)) throw err(t, `writeattr: ${name} given twice`);
        const raw = m[2] as string;
        if (raw === '') {
          attributes[key] = null;
          continue;
        }
        if (!NUMBER.test(raw)) throw err({ text: raw, col: t.col + name.length + 1 }, `writeattr: ${name} must be a number, got ${JSON.stringify(raw)}`);
        const n = Number(raw);
        if (INT_ATTRS.has(name) && (!Number.isInteger(n) || n < 0)) throw err({ text: raw, col: t.col + name.length + 1 }, `writeattr: ${name} must be a non-negative integer (seconds), got ${raw}`);
        attributes[key] = n;
      }
      if (Object.keys(attributes).length === 0) throw err(undefined, `writeattr: give at least one of ${[...ATTRS].join(', ')} (name=value; name= unsets)`);
      return { op, path, attributes, line: lineNo };
    }
    case 'fwupdate': {
      const spec = tail(0);
      if (spec === '') throw err(undefined, 'fwupdate: expected name;version;url');
      const parts = spec.split(';');
      const start = rest[0]?.col ?? 0;
      if (parts.length !== 3) throw err(rest[0], `fwupdate: expected name;version;url (3 fields separated by ;), got ${parts.length}`);
      const [name, version, url] = parts.map((p) => p.trim()) as [string, string, string];
      if (name === '') throw err(rest[0], 'fwupdate: the firmware name is empty');
      if (version === '') throw err({ text: '', col: start + (parts[0] as string).length + 1 }, 'fwupdate: the firmware version is empty');
      const urlCol = start + (parts[0] as string).length + (parts[1] as string).length + 2;
      if (!/^(?:coaps?|https?):\/\/\S+$/i.test(url)) throw err({ text: url, col: urlCol }, `fwupdate: the URL must be coap://, coaps://, http:// or https://, got ${JSON.stringify(url)}`);
      return { op, name, version, url, line: lineNo };
    }
    default:
      throw err(cmd, `unknown command ${JSON.stringify(cmd.text)} (commands: ${SHELL_OPERATIONS.join(', ')})`);
  }
}

/**
 * Parses a shell script (one command per line). Every bad line is reported (`errors`, in order); a
 * script with any error runs nothing. More than {@link MAX_SHELL_COMMANDS} commands is an error.
 */
export function parseShellScript(text: string): { commands: ShellCommand[]; errors: ShellSyntaxError[] } {
  const commands: ShellCommand[] = [];
  const errors: ShellSyntaxError[] = [];
  const lines = text.split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length && errors.length < 50; i++) {
    try {
      const c = parseShellLine(lines[i] as string, i + 1);
      if (c) commands.push(c);
    } catch (e) {
      if (!(e instanceof ShellSyntaxError)) throw e;
      errors.push(e);
    }
    if (commands.length > MAX_SHELL_COMMANDS) {
      errors.push(new ShellSyntaxError(i + 1, 1, `more than ${MAX_SHELL_COMMANDS} commands in one request`));
      break;
    }
  }
  if (commands.length === 0 && errors.length === 0) errors.push(new ShellSyntaxError(1, 1, 'no command (one per line, e.g. read /3/0/0)'));
  return { commands, errors };
}
