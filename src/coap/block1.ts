/**
 * Block-wise request payloads (RFC 7959 §2.3, §2.5), client side. node-coap's Agent only segments when
 * handed a Block1 option whose first byte is an SZX exponent, does not handle 4.13 or restarts, and
 * cannot be given a real Block1 value; so the transfer is driven here, one exchange per block, over
 * any "send one message" function.
 *
 * One token for the whole transfer (node-coap's server, like Californium, keys reassembly by token);
 * a restart after 4.13 is a new transfer with a new token.
 */
import { CoapError, blockSizeOf, szxOf, type BlockValue } from './message.js';

/** One message of a (possibly block-wise) request. */
export interface Block1Part {
  payload: Buffer;
  /** Absent for a request sent in one piece. */
  block1?: BlockValue;
  /** RFC 7959 §4: total size of the body, sent with the first block. */
  size1?: number;
  /** Fixed token for all blocks of one transfer; absent for a one-piece request. */
  token?: Buffer;
}

/** The response fields block1.ts looks at. */
export interface Block1Response {
  code: string;
  block1?: BlockValue | undefined;
  size1?: number | undefined;
}

export type Block1Exchange<R extends Block1Response> = (part: Block1Part) => Promise<R>;

export interface Block1Options {
  /** Initial block size, a power of two within 16–1024. */
  blockSize: number;
  /** A fresh token for each transfer (8 random bytes in practice). */
  newToken: () => Buffer;
  /** Transfers restarted after 4.13 with a smaller size, at most. Default 6 (1024 → 16). */
  maxRestarts?: number;
  /** Called after each block the server acknowledged (2.31, or the final 2.xx), with the bytes acknowledged so far. */
  onProgress?: (bytesAcknowledged: number, total: number) => void;
}

/**
 * Sends `payload` in one message when it fits `blockSize`, else block-wise. Returns the final response
 * — success or not: an error code is a value, not an exception. Throws CoapError COAP_PROTOCOL when the
 * server's Block1 acknowledgements do not match what was sent.
 */
export async function sendWithBlock1<R extends Block1Response>(
  payload: Buffer,
  exchange: Block1Exchange<R>,
  options: Block1Options,
): Promise<R> {
  let szx = szxOf(options.blockSize);
  const maxRestarts = options.maxRestarts ?? 6;

  if (payload.length <= options.blockSize) {
    const res = await exchange({ payload });
    if (res.code !== '4.13' || payload.length <= 16) return res;
    // RFC 7959 §2.9.3: the body is too large for one message; a Block1 option in the 4.13 names the
    // block size the server wants, else fall back to the largest block smaller than the body.
    const next = restartSzx(res, payload.length, Math.min(szx, Math.ceil(Math.log2(payload.length)) - 5));
    if (next === undefined) return res;
    szx = next;
  }

  for (let restart = 0; ; restart++) {
    const outcome = await transfer(payload, exchange, szx, options.newToken(), options.onProgress);
    if (outcome.kind === 'done') return outcome.response;
    const next = restart < maxRestarts ? restartSzx(outcome.response, payload.length, outcome.szx - 1) : undefined;
    if (next === undefined) return outcome.response;
    szx = next;
  }
}

/**
 * After a 4.13: the SZX to restart with, or undefined to give up (the body exceeds the Size1 the server
 * announced — RFC 7959 §2.9.3 — or no smaller size is left).
 */
function restartSzx(res: Block1Response, total: number, fallback: number): number | undefined {
  if (res.size1 !== undefined && total > res.size1) return undefined;
  const hinted = res.block1?.szx;
  const szx = hinted !== undefined && hinted <= fallback ? hinted : fallback;
  return szx >= 0 ? szx : undefined;
}

type Outcome<R> = { kind: 'done'; response: R } | { kind: 'too-large'; response: R; szx: number };

async function transfer<R extends Block1Response>(
  payload: Buffer,
  exchange: Block1Exchange<R>,
  startSzx: number,
  token: Buffer,
  onProgress?: (bytesAcknowledged: number, total: number) => void,
): Promise<Outcome<R>> {
  let szx = startSzx;
  let offset = 0;
  // Bounded: every round sends at least 16 new bytes, or ends.
  const maxRounds = Math.ceil(payload.length / 16) + 1;
  for (let round = 0; round < maxRounds; round++) {
    const size = blockSizeOf(szx);
    // Sizes only shrink, by powers of two, so the offset is always a whole number of blocks.
    const num = offset / size;
    const chunk = payload.subarray(offset, offset + size);
    const more = offset + chunk.length < payload.length;
    const res = await exchange({
      payload: chunk,
      block1: { num, more, szx },
      ...(num === 0 ? { size1: payload.length } : {}),
      token,
    });
    if (res.code === '4.13') return { kind: 'too-large', response: res, szx };
    if (!more) {
      if (res.code === '2.31') {
        throw new CoapError('COAP_PROTOCOL', `server answered 2.31 Continue to the last block (${num}) of a Block1 transfer`);
      }
      if (res.code.startsWith('2.')) onProgress?.(payload.length, payload.length);
      return { kind: 'done', response: res };
    }
    if (res.code !== '2.31') {
      // RFC 7959 §2.3: the server may end the transfer early with a final (usually error) response.
      return { kind: 'done', response: res };
    }
    // RFC 7959 §2.9.1: 2.31 Continue acknowledges block `num`.
    const ack = res.block1;
    if (!ack || ack.num !== num) {
      throw new CoapError('COAP_PROTOCOL', `2.31 Continue acknowledged block ${ack ? ack.num : 'none'} instead of ${num}`);
    }
    offset += chunk.length;
    onProgress?.(offset, payload.length);
    // RFC 7959 §2.5: a smaller SZX in the response is the server's preference — use it from now on
    // (the next NUM is rescaled from the byte offset). A larger one is ignored.
    if (ack.szx < szx) szx = ack.szx;
  }
  throw new CoapError('COAP_PROTOCOL', 'Block1 transfer did not converge');
}
