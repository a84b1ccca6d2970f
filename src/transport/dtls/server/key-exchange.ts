/**
 * Key exchange registry. The handshake asks the suite's key exchange for the messages it sends between
 * ServerHello and ServerHelloDone and for the premaster secret from the ClientKeyExchange. PSK only for
 * now (RFC 4279); ECDHE_ECDSA (RPK / X.509) plugs in here later.
 */
import { HandshakeType } from './constants.js';
import { DtlsError } from './errors.js';
import { encodePskServerKeyExchange, parsePskClientKeyExchange } from './handshake-codec.js';
import { pskPremasterSecret } from './prf.js';
import type { KeyExchangeName } from './cipher-suites.js';
import type { PskResolver } from './types.js';

export interface KeyExchangeContext {
  readonly psk: PskResolver;
  readonly identityHint: Buffer | undefined;
}

export interface KeyExchange {
  /** Messages (type, body) sent after ServerHello and before ServerHelloDone. */
  serverMessages(ctx: KeyExchangeContext): Array<{ msgType: number; body: Buffer }>;
  /** Premaster secret and the authenticated identity; throws DtlsError (with its alert) when refused. */
  clientKeyExchange(ctx: KeyExchangeContext, body: Buffer): { premaster: Buffer; identity: string };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export const pskKeyExchange: KeyExchange = {
  serverMessages(ctx) {
    return ctx.identityHint ? [{ msgType: HandshakeType.serverKeyExchange, body: encodePskServerKeyExchange(ctx.identityHint) }] : [];
  },
  clientKeyExchange(ctx, body) {
    const raw = parsePskClientKeyExchange(body);
    if (raw.length === 0) throw new DtlsError('DTLS_ILLEGAL_PARAMETER', 'ClientKeyExchange: empty PSK identity');
    let identity: string;
    try {
      identity = utf8.decode(raw); // RFC 4279 §5.1: identities are UTF-8
    } catch {
      throw new DtlsError('DTLS_ILLEGAL_PARAMETER', 'ClientKeyExchange: PSK identity is not UTF-8');
    }
    let key: Uint8Array | undefined;
    try {
      key = ctx.psk(identity);
    } catch (e) {
      throw new DtlsError('DTLS_INTERNAL', `PSK resolver threw for identity ${JSON.stringify(identity)}`, { cause: e });
    }
    if (!key || key.length === 0) throw new DtlsError('DTLS_UNKNOWN_PSK_IDENTITY', `unknown PSK identity ${JSON.stringify(identity)}`);
    return { premaster: pskPremasterSecret(key), identity };
  },
};

export const KEY_EXCHANGES: Readonly<Record<KeyExchangeName, KeyExchange>> = { psk: pskKeyExchange };
