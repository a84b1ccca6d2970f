import { COMPOSITE_FORMAT_NAMES, FORMAT_NAMES } from './formats.js';

/**
 * JSON Schemas of the HTTP API. Fastify validates requests and serialises responses with them, and
 * @fastify/swagger turns the same schemas into the OpenAPI 3.1 document. Shared ones carry an `$id`
 * and are referenced as `{ $ref: 'Name#' }`.
 */

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error answer: a stable code, a message, and the CoAP code when the device answered it.',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', examples: ['LWM2M_NOT_FOUND'] },
    message: { type: 'string' },
    status: { type: 'string', description: 'CoAP response code of the device (`4.04`).' },
  },
} as const;

export const jsonValueMapSchema = {
  type: 'object',
  description: 'Full path → typed value (`{"/3/0/0": "…", "/3/0/9": 87}`); opaque as base64, time as epoch seconds, objlnk as "3:0".',
  additionalProperties: true,
} as const;

export const readResultSchema = {
  $id: 'ReadResult',
  type: 'object',
  required: ['status', 'values'],
  properties: {
    status: { type: 'string', examples: ['2.05'] },
    contentFormat: { type: 'string', description: 'Short name of the content format the device used (`tlv`).' },
    contentFormatId: { type: 'integer', description: 'Its CoAP Content-Format number (11542).' },
    values: jsonValueMapSchema,
  },
} as const;

export const statusSchema = {
  $id: 'Status',
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string', examples: ['2.04'] } },
} as const;

export const createdSchema = {
  $id: 'Created',
  type: 'object',
  required: ['status', 'location'],
  properties: {
    status: { type: 'string', examples: ['2.01'] },
    location: { type: 'string', description: 'Path of the new instance (`/3303/1`).' },
  },
} as const;

export const discoverResultSchema = {
  $id: 'DiscoverResult',
  type: 'object',
  required: ['status', 'links'],
  properties: {
    status: { type: 'string' },
    links: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'attributes'],
        properties: {
          path: { type: 'string' },
          attributes: { type: 'object', additionalProperties: true },
          extensions: { type: 'object', additionalProperties: true },
        },
      },
    },
  },
} as const;

export const queuedSchema = {
  $id: 'Queued',
  type: 'object',
  description: 'The client is in queue mode and asleep: the request waits for it to wake.',
  required: ['requestId', 'status'],
  properties: {
    requestId: { type: 'string' },
    status: { type: 'string', enum: ['pending'] },
    endpoint: { type: 'string' },
    location: { type: 'string' },
  },
} as const;

export const requestRecordSchema = {
  $id: 'RequestRecord',
  type: 'object',
  required: ['requestId', 'endpoint', 'operation', 'path', 'status', 'createdAt'],
  properties: {
    requestId: { type: 'string' },
    endpoint: { type: 'string' },
    operation: { type: 'string' },
    path: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'done', 'failed'] },
    createdAt: { type: 'string', format: 'date-time' },
    completedAt: { type: 'string', format: 'date-time' },
    httpStatus: { type: 'integer', description: 'What a direct call would have answered.' },
    body: { description: 'The body a direct call would have answered (an Error when failed).' },
  },
} as const;

export const formatQuery = {
  type: 'string',
  enum: [...FORMAT_NAMES],
  description: 'Content format to ask for (read/observe) or to encode with (write/create).',
} as const;

export const compositeFormatQuery = {
  type: 'string',
  enum: [...COMPOSITE_FORMAT_NAMES],
  description: 'Content format of the composite request and response (default SenML CBOR, or what the client announced).',
} as const;

export const timeoutQuery = {
  type: 'integer',
  minimum: 1,
  maximum: 600_000,
  description: 'Give up after this many ms (504).',
} as const;

export const endpointParam = {
  type: 'string',
  minLength: 1,
  maxLength: 1024,
  description: 'Endpoint client name (`ep`).',
} as const;

export const idParam = (what: string) => ({
  type: 'string',
  pattern: '^[0-9]{1,5}$',
  description: `${what} id, 0..65535.`,
}) as const;

/** `?pmin=` … : a number, or empty to unset the attribute (LwM2M-TS-Core 1.1 §5.4.4). */
export const attributeQuery = (what: string, integer: boolean) => ({
  type: 'string',
  pattern: integer ? '^([0-9]{1,10})?$' : '^(-?[0-9]{1,20}(\\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?)?$',
  description: `${what}; empty to unset.`,
}) as const;

export const sharedSchemas = [
  errorSchema, readResultSchema, statusSchema, createdSchema, discoverResultSchema, queuedSchema, requestRecordSchema,
] as const;

/** `{ $ref: 'Name#' }` of a shared schema. */
export function ref(id: string): { $ref: string } {
  return { $ref: `${id}#` };
}

/** The error answers every route may give. */
export const errorResponses = {
  '4xx': ref('Error'),
  '5xx': ref('Error'),
} as const;
