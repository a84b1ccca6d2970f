/**
 * Pre-shared keys of the server's DTLS listeners: which PSK identity belongs to which endpoint, and its
 * key. The DTLS server asks {@link PskStore.resolver} for the key of the identity a ClientKeyExchange
 * names (RFC 4279 §2); the LwM2M and Bootstrap servers ask {@link PskStore.byIdentity} which endpoint that
 * identity may act as (the endpoint binding: a device cannot register under another device's name).
 *
 * Entries are unique by endpoint and by identity. One store per listener: the LwM2M server's DM
 * credentials and the Bootstrap-Server's credentials are different Security object instances on the
 * device (LwM2M-TS-Core 1.1 §E.1, /0/x/1 Bootstrap-Server true/false) with keys of their own, and an
 * identity accepted by one listener must not open a session on the other.
 */
import { EventEmitter } from 'node:events';
import { checkEndpointName } from '../registration/parse.js';

/** One endpoint's PSK credentials. */
export interface PskEntry {
  readonly endpoint: string;
  /** PSK identity (RFC 4279 §5.1: UTF-8 text). */
  readonly identity: string;
  readonly key: Uint8Array;
  /** Where the entry came from (`psks.csv:12`, `api`, `bootstrap config "dev1"`…), for listings and logs. */
  readonly source?: string;
}

/** What the DTLS server calls for a ClientKeyExchange: the key of `identity`, or undefined (handshake fails). */
export type PskKeyResolver = (identity: string) => Uint8Array | undefined;

/** The lookup the endpoint binding needs (a {@link PskStore} is one). */
export interface PskBindings {
  byIdentity(identity: string): Pick<PskEntry, 'endpoint' | 'identity'> | undefined;
}

/**
 * RFC 4279 §5.3: implementations "MUST support arbitrary PSK identities up to 128 octets in length, and
 * arbitrary PSKs up to 64 octets in length". Longer ones are refused here so that every entry works with
 * every compliant DTLS client.
 */
export const MAX_PSK_IDENTITY_BYTES = 128;
export const MAX_PSK_KEY_BYTES = 64;

export type PskStoreErrorCode = 'PSK_INVALID' | 'PSK_IDENTITY_IN_USE' | 'PSK_STORE_FULL';

/** A refused put: a bad entry, an identity that another endpoint already uses, or a full store. */
export class PskStoreError extends Error {
  override readonly name = 'PskStoreError';
  constructor(
    readonly code: PskStoreErrorCode,
    message: string,
    /** Which field is wrong (`endpoint`, `identity`, `key`), for locating the problem in a file or a body. */
    readonly field?: 'endpoint' | 'identity' | 'key',
  ) {
    super(message);
  }
}

export function isPskStoreError(e: unknown): e is PskStoreError {
  return e instanceof PskStoreError;
}

export type PskChange =
  | { readonly type: 'created'; readonly entry: PskEntry }
  | { readonly type: 'replaced'; readonly entry: PskEntry; readonly previous: PskEntry }
  | { readonly type: 'deleted'; readonly entry: PskEntry };

export interface PskStoreEvents {
  /** After every change, synchronously. */
  change: [change: PskChange];
}

export interface PskStoreOptions {
  /** Bound on entries; a new entry beyond it is refused (PSK_STORE_FULL). Default 1 000 000. */
  maxEntries?: number;
}

const utf8 = new TextEncoder();

function show(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

/** Why `identity` cannot be a PSK identity, or undefined. */
export function checkPskIdentity(identity: string): string | undefined {
  if (identity.length === 0) return 'identity is empty';
  const bytes = utf8.encode(identity).length;
  if (bytes > MAX_PSK_IDENTITY_BYTES) return `identity is ${bytes} bytes long, at most ${MAX_PSK_IDENTITY_BYTES} are allowed (RFC 4279 §5.3)`;
  for (let i = 0; i < identity.length; i++) {
    const c = identity.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return `identity contains control character U+${c.toString(16).toUpperCase().padStart(4, '0')} at index ${i}`;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < identity.length) {
      const d = identity.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    // RFC 4279 §5.1: the identity goes on the wire as UTF-8; a lone surrogate has no UTF-8 form.
    if (c >= 0xd800 && c <= 0xdfff) return `identity contains a lone surrogate at index ${i} (not valid UTF-8)`;
  }
  return undefined;
}

/** Why `key` cannot be a PSK, or undefined. */
export function checkPskKey(key: Uint8Array): string | undefined {
  if (key.length === 0) return 'key is empty';
  if (key.length > MAX_PSK_KEY_BYTES) return `key is ${key.length} bytes long, at most ${MAX_PSK_KEY_BYTES} are allowed (RFC 4279 §5.3)`;
  return undefined;
}

const HEX_RE = /^(?:[0-9a-fA-F]{2})+$/;

/** A key written as hex (`0x` prefix allowed, nothing else): the bytes, or why not. */
export function parseHexKey(text: string): Uint8Array | { error: string; index: number } {
  const body = /^0x/i.test(text) ? text.slice(2) : text;
  const offset = text.length - body.length;
  if (body.length === 0) return { error: 'key is empty', index: 0 };
  for (let i = 0; i < body.length; i++) {
    if (!/[0-9a-fA-F]/.test(body[i] as string)) return { error: `key: ${JSON.stringify(body[i])} is not a hex digit`, index: offset + i };
  }
  if (!HEX_RE.test(body)) return { error: `key has an odd number (${body.length}) of hex digits`, index: offset + body.length - 1 };
  return Uint8Array.from(Buffer.from(body, 'hex'));
}

function freeze(entry: PskEntry): PskEntry {
  const e: PskEntry = {
    endpoint: entry.endpoint, identity: entry.identity, key: Uint8Array.from(entry.key),
    ...(entry.source !== undefined ? { source: entry.source } : {}),
  };
  return Object.freeze(e);
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The in-memory PSK table: O(1) by endpoint and by identity. */
export class PskStore extends EventEmitter<PskStoreEvents> implements PskBindings {
  private readonly byEp = new Map<string, PskEntry>();
  private readonly byId = new Map<string, PskEntry>();
  private readonly maxEntries: number;
  /** The DTLS server's key lookup: `(identity) => store.byIdentity(identity)?.key`. */
  readonly resolver: PskKeyResolver = (identity) => this.byId.get(identity)?.key;

  constructor(entries: Iterable<PskEntry> = [], options: PskStoreOptions = {}) {
    super();
    this.maxEntries = Math.max(0, options.maxEntries ?? 1_000_000);
    for (const e of entries) this.put(e);
  }

  get size(): number {
    return this.byEp.size;
  }

  /** Throws {@link PskStoreError} when `entry` could not be put (nothing is changed). */
  check(entry: PskEntry): void {
    const badEp = checkEndpointName(entry.endpoint);
    if (badEp) throw new PskStoreError('PSK_INVALID', badEp.diagnostic.replace(/^ep /, 'endpoint '), 'endpoint');
    const badId = checkPskIdentity(entry.identity);
    if (badId !== undefined) throw new PskStoreError('PSK_INVALID', badId, 'identity');
    if (!(entry.key instanceof Uint8Array)) throw new PskStoreError('PSK_INVALID', 'key is not bytes', 'key');
    const badKey = checkPskKey(entry.key);
    if (badKey !== undefined) throw new PskStoreError('PSK_INVALID', badKey, 'key');
    const owner = this.byId.get(entry.identity);
    if (owner && owner.endpoint !== entry.endpoint) {
      throw new PskStoreError(
        'PSK_IDENTITY_IN_USE',
        `identity ${show(entry.identity)} is already used by endpoint ${show(owner.endpoint)}${owner.source !== undefined ? ` (${owner.source})` : ''}`,
        'identity',
      );
    }
    if (!this.byEp.has(entry.endpoint) && this.byEp.size >= this.maxEntries) {
      throw new PskStoreError('PSK_STORE_FULL', `the PSK store is full (${this.maxEntries} entries)`);
    }
  }

  /**
   * Adds or replaces the entry of `entry.endpoint` (the key is copied). Throws {@link PskStoreError}
   * for an invalid entry or an identity another endpoint uses. Returns what happened; a put that
   * changes nothing (same identity, key and source) emits no event.
   */
  put(entry: PskEntry): PskChange {
    this.check(entry);
    const stored = freeze(entry);
    const previous = this.byEp.get(stored.endpoint);
    if (previous && previous.identity === stored.identity && sameKey(previous.key, stored.key) && previous.source === stored.source) {
      return { type: 'replaced', entry: previous, previous };
    }
    if (previous) this.byId.delete(previous.identity);
    this.byEp.set(stored.endpoint, stored);
    this.byId.set(stored.identity, stored);
    const change: PskChange = previous ? { type: 'replaced', entry: stored, previous } : { type: 'created', entry: stored };
    this.emit('change', change);
    return change;
  }

  get(endpoint: string): PskEntry | undefined {
    return this.byEp.get(endpoint);
  }

  byIdentity(identity: string): PskEntry | undefined {
    return this.byId.get(identity);
  }

  /** True when something was removed. */
  delete(endpoint: string): boolean {
    const entry = this.byEp.get(endpoint);
    if (!entry) return false;
    this.byEp.delete(endpoint);
    this.byId.delete(entry.identity);
    this.emit('change', { type: 'deleted', entry });
    return true;
  }

  /** Every entry, sorted by endpoint. */
  list(): PskEntry[] {
    return [...this.byEp.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  }
}
