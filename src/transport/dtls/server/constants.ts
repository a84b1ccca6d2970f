/**
 * DTLS 1.2 wire constants (RFC 6347, RFC 5246 §A, RFC 4279, RFC 5746, RFC 7627).
 */

/** Record content types (RFC 5246 §6.2.1). */
export const ContentType = {
  changeCipherSpec: 20,
  alert: 21,
  handshake: 22,
  applicationData: 23,
} as const;
export type ContentTypeValue = (typeof ContentType)[keyof typeof ContentType];

export function isContentType(v: number): v is ContentTypeValue {
  return v >= 20 && v <= 23;
}

/** Handshake message types (RFC 5246 §7.4, RFC 6347 §4.3.2). */
export const HandshakeType = {
  helloRequest: 0,
  clientHello: 1,
  serverHello: 2,
  helloVerifyRequest: 3,
  certificate: 11,
  serverKeyExchange: 12,
  certificateRequest: 13,
  serverHelloDone: 14,
  certificateVerify: 15,
  clientKeyExchange: 16,
  finished: 20,
} as const;

/** Alert levels and descriptions (RFC 5246 §7.2, RFC 4279 §2). */
export const AlertLevel = { warning: 1, fatal: 2 } as const;
export const AlertDescription = {
  closeNotify: 0,
  unexpectedMessage: 10,
  badRecordMac: 20,
  recordOverflow: 22,
  handshakeFailure: 40,
  illegalParameter: 47,
  decodeError: 50,
  decryptError: 51,
  protocolVersion: 70,
  internalError: 80,
  noRenegotiation: 100,
  unsupportedExtension: 110,
  unknownPskIdentity: 115,
} as const;
export type AlertDescriptionValue = (typeof AlertDescription)[keyof typeof AlertDescription];

const alertNames = new Map<number, string>(Object.entries(AlertDescription).map(([k, v]) => [v, k]));
/** `handshakeFailure` → 'handshake_failure'; unknown codes → 'alert_<n>'. */
export function alertName(description: number): string {
  const n = alertNames.get(description);
  return n ? n.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : `alert_${description}`;
}

/** DTLS 1.2 = {254, 253}; DTLS 1.0 = {254, 255} (RFC 6347 §4.1). */
export const DTLS_1_2 = 0xfefd;
export const DTLS_1_0 = 0xfeff;

/** Record header: type(1) version(2) epoch(2) sequence_number(6) length(2). */
export const RECORD_HEADER_LENGTH = 13;
/** Handshake header: msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3). */
export const HANDSHAKE_HEADER_LENGTH = 12;
/** RFC 6347 §4.1 / RFC 5246 §6.2.3: a TLSCiphertext fragment MUST NOT exceed 2^14 + 2048. */
export const MAX_CIPHERTEXT_LENGTH = 16384 + 2048;
export const MAX_PLAINTEXT_LENGTH = 16384;
/** 2^48 - 1: the largest record sequence number (RFC 6347 §4.1). */
export const MAX_SEQUENCE = 2 ** 48 - 1;

/** Extension types we look at. */
export const ExtensionType = {
  extendedMasterSecret: 0x0017, // RFC 7627
  renegotiationInfo: 0xff01, // RFC 5746
} as const;
/** TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3). */
export const EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;
