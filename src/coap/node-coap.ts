/**
 * Reading and writing node-coap's message objects. node-coap converts option values in place to names,
 * strings and numbers (helpers.js packetToMessage) while its .d.ts still types them as Buffers; every
 * such conversion back to our types happens here.
 */
import type { IncomingMessage, ObserveWriteStream, OutgoingMessage } from 'coap';
import type { OptionName } from 'coap-packet';
import { decodeBlock, decodeUint, encodeUint, formatNumber, type BlockValue } from './message.js';
import type { CoapReply, CoapResponse, QueryInput } from './types.js';

/** node-coap converts option values in place (packetToMessage) and its .d.ts types them as Buffer. */
export type LooseOption = { name: string | number; value: unknown };

/**
 * node-coap's packetToMessage() sets `options` on every IncomingMessage/ObserveReadStream (refreshed for
 * each notification) but its .d.ts omits the field: read it here and nowhere else.
 */
export function messageOptions(m: IncomingMessage): readonly LooseOption[] {
  const o = (m as unknown as { options?: unknown }).options;
  return Array.isArray(o) ? (o as LooseOption[]) : [];
}

export function optionValues(options: readonly LooseOption[], name: string): unknown[] {
  const out: unknown[] = [];
  for (const o of options) if (o.name === name) out.push(o.value);
  return out;
}

export function asText(v: unknown): string {
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return typeof v === 'string' ? v : String(v);
}

export function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (Buffer.isBuffer(v)) return decodeUint(v);
  return undefined;
}

export function asBlock(v: unknown): BlockValue | undefined {
  return Buffer.isBuffer(v) ? decodeBlock(v) : undefined;
}

export function toBuffer(p: Buffer | string | undefined): Buffer {
  if (p === undefined) return Buffer.alloc(0);
  return typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
}

export function splitPath(path: string | undefined): string[] {
  if (path === undefined) return [];
  return path.split('/').filter((s) => s !== '');
}

export function querySegments(q: QueryInput | undefined): string[] {
  if (q === undefined) return [];
  if (Array.isArray(q)) return [...(q as readonly string[])];
  const out: string[] = [];
  for (const [k, v] of Object.entries(q as Record<string, string | number | boolean | null | undefined>)) {
    if (v === undefined || v === false) continue;
    out.push(v === true || v === null ? k : `${k}=${v}`);
  }
  return out;
}

export function isSuccess(code: string): boolean {
  return code.startsWith('2.');
}

export function responseFrom(m: IncomingMessage, payload: Buffer, token: Buffer): CoapResponse {
  const options = messageOptions(m);
  const first = (name: string): unknown => optionValues(options, name)[0];
  return {
    code: m.code,
    payload,
    contentFormat: formatNumber(m.headers['Content-Format']),
    locationPath: optionValues(options, 'Location-Path').map(asText),
    locationQuery: optionValues(options, 'Location-Query').map(asText),
    observe: asNumber(first('Observe')),
    maxAge: asNumber(first('Max-Age')),
    block1: asBlock(first('Block1')),
    block2: asBlock(first('Block2')),
    size1: asNumber(first('Size1')),
    size2: asNumber(first('Size2')),
    etag: Buffer.isBuffer(first('ETag')) ? (first('ETag') as Buffer) : undefined,
    token,
    source: { address: m.rsinfo.address, port: m.rsinfo.port },
  };
}

export function applyReplyOptions(res: OutgoingMessage | ObserveWriteStream, reply: Omit<CoapReply, 'code'>): void {
  if (reply.contentFormat !== undefined) res.setOption('Content-Format', encodeUint(reply.contentFormat));
  // (e) Several Location-Path segments: an array of Buffers (an array of strings throws in coap-packet).
  if (reply.locationPath?.length) res.setOption('Location-Path', reply.locationPath.map((s) => Buffer.from(s, 'utf8')));
  if (reply.locationQuery?.length) res.setOption('Location-Query', reply.locationQuery.map((s) => Buffer.from(s, 'utf8')));
  if (reply.maxAge !== undefined) res.setOption('Max-Age', encodeUint(reply.maxAge));
  if (reply.etag !== undefined) res.setOption('ETag', reply.etag);
  // By number: node-coap passes a Buffer value through unconverted whatever the name (helpers.js setOption).
  for (const o of reply.options ?? []) res.setOption(String(o.number) as OptionName, o.value);
}
