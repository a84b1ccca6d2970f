/** DTLS 1.2 PSK server (RFC 6347, RFC 4279, RFC 6655, RFC 5487) over any DatagramSocket. */
export { createDtlsServer } from './server.js';
export type {
  PskResolver, DtlsCipherSuiteName, DtlsServerLimits, DtlsServerOptions, DtlsPeerSession, DtlsServerStats, DtlsServerSocket,
} from './types.js';
export { DtlsError, isDtlsError, type DtlsErrorCode } from './errors.js';
