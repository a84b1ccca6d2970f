/** CoAP Content-Format numbers used by LwM2M (LwM2M-TS-Core 1.1 §7.2, IANA CoAP registry). */
export const ContentFormat = {
  TEXT: 0,
  LINK: 40,
  OPAQUE: 42,
  CBOR: 60,
  SENML_JSON: 110,
  SENML_CBOR: 112,
  TLV: 11542,
  OMA_JSON: 11543,
  LWM2M_CBOR: 11544,
  /** LwM2M 1.0 pre-registration numbers, still sent by old clients. */
  TLV_LEGACY: 1542,
  OMA_JSON_LEGACY: 1543,
} as const;

export type ContentFormatNumber = (typeof ContentFormat)[keyof typeof ContentFormat];

export const CONTENT_FORMAT_NAMES: Readonly<Record<ContentFormatNumber, string>> = {
  0: 'text/plain',
  40: 'application/link-format',
  42: 'application/octet-stream',
  60: 'application/cbor',
  110: 'application/senml+json',
  112: 'application/senml+cbor',
  11542: 'application/vnd.oma.lwm2m+tlv',
  11543: 'application/vnd.oma.lwm2m+json',
  11544: 'application/vnd.oma.lwm2m+cbor',
  1542: 'application/vnd.oma.lwm2m+tlv (legacy 1542)',
  1543: 'application/vnd.oma.lwm2m+json (legacy 1543)',
};

/** Short names (HTTP API `?format=`, CLI flags). */
export const CONTENT_FORMAT_BY_NAME: Readonly<Record<string, ContentFormatNumber>> = {
  text: 0,
  link: 40,
  opaque: 42,
  cbor: 60,
  'senml-json': 110,
  'senml-cbor': 112,
  tlv: 11542,
  json: 11543,
  'oma-json': 11543,
  'lwm2m-cbor': 11544,
  'tlv-legacy': 1542,
  'json-legacy': 1543,
};

export function isContentFormat(n: number): n is ContentFormatNumber {
  return Object.prototype.hasOwnProperty.call(CONTENT_FORMAT_NAMES, n);
}
