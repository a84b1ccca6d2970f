import type { Registration } from '../registration/registration.js';

/** A registration as the API shows it (times as ISO 8601). */
export interface ClientJson {
  endpoint: string;
  registrationId: string;
  address: string;
  port: number;
  transport: string;
  /** Seconds. */
  lifetime: number;
  binding: string;
  lwm2mVersion: string;
  queueMode: boolean;
  sms?: string;
  /** Seconds, from the non-standard `at` parameter. */
  awakeTime?: number;
  rootPath: string;
  supportedContentFormats: number[];
  objectLinks: Array<{ objectId: number; version?: string; instances: number[] }>;
  additionalAttributes?: Record<string, string>;
  registeredAt: string;
  lastUpdate: string;
  lastSeen: string;
  expiresAt: string;
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}

/** `expiresAt` is the registration service's (grace included). */
export function clientJson(reg: Registration, expiresAt: number): ClientJson {
  return {
    endpoint: reg.endpoint,
    registrationId: reg.registrationId,
    address: reg.address,
    port: reg.port,
    transport: reg.transport,
    lifetime: reg.lifetime,
    binding: reg.binding,
    lwm2mVersion: reg.lwm2mVersion,
    queueMode: reg.queueMode,
    ...(reg.sms !== undefined ? { sms: reg.sms } : {}),
    ...(reg.awakeTime !== undefined ? { awakeTime: reg.awakeTime } : {}),
    rootPath: reg.rootPath,
    supportedContentFormats: [...reg.supportedContentFormats],
    objectLinks: reg.objectLinks.objects.map((o) => ({
      objectId: o.objectId,
      ...(o.version !== undefined ? { version: o.version } : {}),
      instances: [...o.instances],
    })),
    ...(reg.additionalAttributes !== undefined ? { additionalAttributes: { ...reg.additionalAttributes } } : {}),
    registeredAt: iso(reg.registeredAt),
    lastUpdate: iso(reg.lastUpdate),
    lastSeen: iso(reg.lastSeen),
    expiresAt: iso(expiresAt),
  };
}

export const clientSchema = {
  $id: 'Client',
  type: 'object',
  description: 'A registered LwM2M client (LwM2M-TS-Core 1.1 §6.2.1).',
  required: [
    'endpoint', 'registrationId', 'address', 'port', 'lifetime', 'binding', 'lwm2mVersion', 'queueMode',
    'objectLinks', 'registeredAt', 'lastSeen',
  ],
  properties: {
    endpoint: { type: 'string' },
    registrationId: { type: 'string', description: 'The `<id>` of `/rd/<id>`.' },
    address: { type: 'string', description: 'Where requests to the client go: the source of its last Register/Update.' },
    port: { type: 'integer' },
    transport: { type: 'string', description: 'udp or dtls.' },
    lifetime: { type: 'integer', description: 'Seconds.' },
    binding: { type: 'string', description: 'Transport letters without Q (U, US, UT).' },
    lwm2mVersion: { type: 'string' },
    queueMode: { type: 'boolean' },
    sms: { type: 'string' },
    awakeTime: { type: 'integer', description: 'Seconds (non-standard `at`).' },
    rootPath: { type: 'string' },
    supportedContentFormats: { type: 'array', items: { type: 'integer' } },
    objectLinks: {
      type: 'array',
      items: {
        type: 'object',
        required: ['objectId', 'instances'],
        properties: {
          objectId: { type: 'integer' },
          version: { type: 'string' },
          instances: { type: 'array', items: { type: 'integer' } },
        },
      },
    },
    additionalAttributes: { type: 'object', additionalProperties: { type: 'string' } },
    registeredAt: { type: 'string', format: 'date-time' },
    lastUpdate: { type: 'string', format: 'date-time' },
    lastSeen: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
  },
} as const;
