export * from './core/index.js';
export * from './model/index.js';
export * from './codec/index.js';
export * from './client/index.js';
export * from './transport/datagram.js';
export * from './transport/udp.js';
export * from './transport/memory.js';
export * from './transport/gated.js';
export {
  createDtlsClientSocket, DtlsClientSocket, DtlsClientError, isDtlsClientError,
  type DtlsClientOptions, type DtlsClientErrorCode, type DtlsHandshakeStats,
} from './transport/dtls/client.js';
export { PSK_CIPHER_SUITES, type PskCipherSuite } from './transport/dtls/psk-session.js';
export {
  createDtlsServer, DtlsError, isDtlsError,
  type PskResolver, type DtlsCipherSuiteName, type DtlsServerLimits, type DtlsServerOptions, type DtlsPeerSession,
  type DtlsServerStats, type DtlsServerSocket, type DtlsErrorCode,
} from './transport/dtls/server/index.js';
