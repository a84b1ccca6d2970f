/**
 * JSON Schema of a Bootstrap-Server configuration (one endpoint, or the default one). Written with the
 * keywords draft-07 and 2020-12 share (type, properties, required, additionalProperties, enum, pattern,
 * minimum/maximum, items, anyOf), no `$schema`, so it validates with Ajv's default draft and drops into an
 * OpenAPI 3.1 document unchanged. It checks shapes only; {@link validateBootstrapConfig} (config.ts) adds
 * the checks a schema cannot express (paths, URIs, hex keys, resource types against the object models).
 */

const scalar = { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] } as const;

const uint16 = { type: 'integer', minimum: 0, maximum: 65535 } as const;

const securityFields = {
  uri: {
    type: 'string', minLength: 1, maxLength: 255,
    description: 'LwM2M Server URI /0/x/0: coap://host:port (NoSec) or coaps://host:port (PSK).',
  },
  securityMode: {
    type: 'string', enum: ['nosec', 'psk'],
    description: 'Security Mode /0/x/2 (psk = 0, nosec = 3). Default: psk when pskKey is given, else nosec.',
  },
  pskIdentity: { type: 'string', minLength: 1, maxLength: 255, description: 'PSK identity /0/x/3 (UTF-8).' },
  pskKey: { type: 'string', minLength: 2, maxLength: 512, description: 'PSK key /0/x/5, hex (":", spaces and a 0x prefix are ignored).' },
} as const;

/** The JSON Schema of {@link BootstrapConfig} (config.ts). Frozen; copy it before adding `$id` or the like. */
export const bootstrapConfigSchema = deepFreeze({
  title: 'BootstrapConfig',
  description:
    'What the LwM2M Bootstrap-Server writes to one endpoint (or, as "default"/"*", to any endpoint without its own config): ' +
    'Bootstrap-Discover (optional), Bootstrap-Delete of `delete`, Bootstrap-Write of the Security/Server instances of `servers` ' +
    '(and of `bootstrapServer`), of `objects`, Bootstrap-Read of `read` (1.1), then Bootstrap-Finish.',
  type: 'object',
  additionalProperties: false,
  properties: {
    endpoint: {
      type: 'string', minLength: 1, maxLength: 252,
      description: 'Endpoint Client Name; "default" or "*" for the default config. In a file, defaults to the file name.',
    },
    delete: {
      type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 32 },
      description: 'Paths to Bootstrap-Delete first (object or instance level, or "/"). Default ["/0", "/1"]; the Bootstrap-Server account is always kept.',
    },
    servers: {
      type: 'array', maxItems: 32,
      description: 'DM server accounts: one Security and one Server instance each, paired by shortServerId.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['shortServerId', 'uri'],
        properties: {
          shortServerId: { type: 'integer', minimum: 1, maximum: 65534, description: 'Short Server ID /0/x/10 = /1/x/0.' },
          ...securityFields,
          lifetime: { type: 'integer', minimum: 1, maximum: 4294967295, description: 'Lifetime /1/x/1 in seconds (default 300).' },
          binding: { type: 'string', minLength: 1, maxLength: 5, description: 'Binding /1/x/7: letters of U, T, S, N, Q (default "U").' },
          defaultPmin: { type: 'integer', minimum: 0, maximum: 4294967295, description: 'Default Minimum Period /1/x/2 (s).' },
          defaultPmax: { type: 'integer', minimum: 0, maximum: 4294967295, description: 'Default Maximum Period /1/x/3 (s).' },
          notificationStoring: { type: 'boolean', description: 'Notification Storing When Disabled or Offline /1/x/6 (default true).' },
          securityInstanceId: { ...uint16, maximum: 65534, description: 'Security instance id (default: the lowest one not used by the Bootstrap-Server account).' },
          serverInstanceId: { ...uint16, maximum: 65534, description: 'Server instance id (default: the lowest free one, from 0).' },
        },
      },
    },
    bootstrapServer: {
      type: 'object',
      additionalProperties: false,
      required: ['uri'],
      description: 'Rewrites the Bootstrap-Server account (a Security instance with /0/x/1 = true).',
      properties: {
        ...securityFields,
        clientHoldOffTime: { type: 'integer', minimum: 0, maximum: 4294967295, description: 'Client Hold Off Time /0/x/11 (s).' },
        accountTimeout: { type: 'integer', minimum: 0, maximum: 4294967295, description: 'Bootstrap-Server Account Timeout /0/x/12 (s).' },
        instanceId: { ...uint16, maximum: 65534, description: 'Security instance id (default: the one Bootstrap-Discover shows, else 0).' },
      },
    },
    objects: {
      type: 'array', maxItems: 1024,
      description: 'Other object instances to Bootstrap-Write (Access Control /2, Device, vendor objects…), typed by the object models.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path', 'values'],
        properties: {
          path: { type: 'string', minLength: 1, maxLength: 16, description: 'Object instance, e.g. "/2/0".' },
          values: {
            type: 'object',
            description: 'Resource id → value; a multiple resource takes a map of resource instance id → value (or a list). ' +
              'Opaque as hex, Time as epoch seconds or ISO 8601, Objlnk as "oid:iid".',
            additionalProperties: false,
            patternProperties: {
              '^[0-9]+$': {
                anyOf: [
                  scalar,
                  { type: 'array', maxItems: 1024, items: scalar },
                  { type: 'object', additionalProperties: false, patternProperties: { '^[0-9]+$': scalar } },
                ],
              },
            },
          },
        },
      },
    },
    discover: { type: 'boolean', description: 'Bootstrap-Discover "/" first (default false); its result picks instance ids and object versions.' },
    read: {
      type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 16 },
      description: 'Bootstrap-Read (LwM2M 1.1) of /1, /2 or their instances before Bootstrap-Finish.',
    },
    contentFormat: {
      type: 'string', enum: ['tlv', 'senml-cbor', 'senml-json', 'lwm2m-cbor'],
      description: "Format of the Bootstrap-Writes; default the client's pct, else TLV.",
    },
  },
} as const);

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
