/**
 * What the LwM2M and Bootstrap servers need from a DTLS listener: a datagram socket whose 'message'
 * events carry decrypted CoAP (rinfo = the peer), and the session of a peer — its PSK identity.
 * The DTLS server transport (src/transport/dtls/server, `createDtlsServer`) returns such a socket; tests
 * may hand in a fake. Kept structural so that nothing in the server core depends on the DTLS code.
 */
import type { DatagramSocket } from '../../transport/datagram.js';
import type { RegistrationTransport } from '../registration/request.js';
import type { PskBindings } from './psk-store.js';

export interface SecurePeerSession {
  /** The PSK identity the peer's handshake used (RFC 4279 §2). */
  readonly identity: string;
}

export interface SecureDatagramSocket extends DatagramSocket {
  /** The established session with `address:port`, if any. */
  sessionOf(address: string, port: number): SecurePeerSession | undefined;
}

/** A DTLS listener of a server and the PSK bindings that say which endpoint each identity may act as. */
export interface SecureListener {
  readonly socket: SecureDatagramSocket;
  readonly bindings: PskBindings;
}

/** The security context of one incoming request. */
export interface PeerSecurity {
  readonly transport: RegistrationTransport;
  /** DTLS only; absent when the session is gone (closed between decryption and handling). */
  readonly pskIdentity?: string;
}

/** Diagnostic of a request over DTLS whose identity is not bound to the endpoint it names. */
export function bindingRefusal(bindings: PskBindings, identity: string | undefined, endpoint: string, what: string): string | undefined {
  if (identity === undefined) return `forbidden: ${what} over DTLS without an established session`;
  const bound = bindings.byIdentity(identity);
  if (!bound) return `forbidden: PSK identity ${JSON.stringify(identity)} is not bound to any endpoint (removed since the handshake?)`;
  if (bound.endpoint !== endpoint) {
    return `forbidden: PSK identity ${JSON.stringify(identity)} is bound to endpoint ${JSON.stringify(bound.endpoint)}, not ${JSON.stringify(endpoint)}`;
  }
  return undefined;
}
