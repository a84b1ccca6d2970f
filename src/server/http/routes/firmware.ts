import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isImageStoreError, imageInfo, type StoredImage } from '../../fota/image-store.js';
import { isFotaError, type FotaService, type FotaStartSpec } from '../../fota/service.js';
import type { CampaignSpec } from '../../fota/campaign.js';
import { ApiError } from '../errors.js';
import { endpointParam, errorResponses, ref } from '../schemas.js';

/**
 * Firmware update over the API (issue 7, server side):
 *   POST|GET|DELETE /api/v1/clients/{ep}/firmware     start, progress, cancel one device's job
 *   POST|GET        /api/v1/firmware/images           upload (raw image, or JSON name/version/bodyBase64), list
 *   GET|DELETE      /api/v1/firmware/images/{id}
 *   POST|GET        /api/v1/firmware/campaigns        many devices, bounded concurrency
 *   GET|DELETE      /api/v1/firmware/campaigns/{id}
 *   GET|HEAD        /fw/{imageId}                     the image for HTTP pull (Range → 206, 416; ETag)
 */

const MAX_IMAGE_UPLOAD = 64 * 1024 * 1024;

const timeoutsSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Per-step bounds, ms.',
  properties: {
    requestMs: { type: 'integer', minimum: 10, maximum: 3_600_000, description: 'Each DM request (and each push block).' },
    deliveryMs: { type: 'integer', minimum: 10, maximum: 86_400_000, description: 'Delivery until State 2 Downloaded.' },
    updateMs: { type: 'integer', minimum: 10, maximum: 86_400_000, description: 'Update executed until State 0 with Result 1.' },
    offlineMs: { type: 'integer', minimum: 10, maximum: 604_800_000, description: 'Waiting for a sleeping or unreachable device, each time.' },
    pollMs: { type: 'integer', minimum: 10, maximum: 3_600_000, description: 'Re-read State/Result this often while waiting.' },
  },
} as const;

const jobProperties = {
  method: { type: 'string', enum: ['push', 'pull'], description: 'push: Block1 write of /5/0/0; pull: the image URI written to /5/0/1.' },
  protocol: { type: 'string', enum: ['coap', 'coaps', 'http', 'https'], description: 'Pull: the scheme of the URI (default coap).' },
  image: { type: 'string', minLength: 1, maxLength: 255, description: 'An uploaded image id, name@version, or a file name in the image directory.' },
  blockSize: { type: 'integer', enum: [16, 32, 64, 128, 256, 512, 1024], description: 'Push: Block1 size (default 512).' },
  resetMechanism: { type: 'string', enum: ['package', 'package-uri'], description: 'Reset to Idle by an empty /5/0/0 (default for push) or an empty /5/0/1 (default for pull).' },
  timeouts: timeoutsSchema,
  maxDeliveries: { type: 'integer', minimum: 1, maximum: 10, description: 'Deliveries at most (redelivery after a lost connection). Default 3.' },
} as const;

// `method` may be left out for a device with its own flow (a Cumulocity import's fwUpdateDeliveryMethod…); else 400.
const startBodySchema = { type: 'object', additionalProperties: false, required: ['image'], properties: jobProperties } as const;

const campaignBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['select', 'image', 'method'],
  properties: {
    select: {
      description: 'The devices: a list of endpoints, or a glob (`*`, `?`) over the registered ones.',
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['endpoints'], properties: { endpoints: { type: 'array', minItems: 1, maxItems: 100_000, items: endpointParam } } },
        { type: 'object', additionalProperties: false, required: ['pattern'], properties: { pattern: { type: 'string', minLength: 1, maxLength: 1024 } } },
      ],
    },
    concurrency: { type: 'integer', minimum: 1, maximum: 1000, description: 'Jobs at a time (default 10).' },
    ...jobProperties,
  },
} as const;

const outcomeSchema = {
  type: 'object',
  required: ['status', 'phase', 'reason'],
  properties: {
    status: { type: 'string', enum: ['success', 'failed', 'timeout', 'cancelled'] },
    phase: { type: 'string' },
    updateResult: { type: 'integer', description: '/5/0/5 as the device reported it.' },
    updateResultName: { type: 'string' },
    reason: { type: 'string' },
  },
} as const;

export const firmwareJobSchema = {
  $id: 'FirmwareJob',
  type: 'object',
  required: ['id', 'endpoint', 'image', 'method', 'phase', 'bytesSent', 'totalBytes', 'percent', 'createdAt'],
  properties: {
    id: { type: 'string' },
    endpoint: { type: 'string' },
    campaignId: { type: 'string' },
    image: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, version: { type: 'string' }, size: { type: 'integer' } } },
    method: { type: 'string', enum: ['push', 'pull'] },
    protocol: { type: 'string' },
    uri: { type: 'string' },
    blockSize: { type: 'integer' },
    resetMechanism: { type: 'string' },
    phase: {
      type: 'string',
      enum: ['queued', 'waiting', 'resetting', 'reading', 'observing', 'delivering', 'downloading', 'updating', 'cancelling', 'succeeded', 'failed', 'cancelled'],
    },
    deviceState: { type: 'integer', description: '/5/0/3 as last seen (0 idle, 1 downloading, 2 downloaded, 3 updating).' },
    updateResult: { type: 'integer', description: '/5/0/5 as last seen.' },
    bytesSent: { type: 'integer' },
    totalBytes: { type: 'integer' },
    percent: { type: ['number', 'null'] },
    deliveries: { type: 'integer' },
    reconnects: { type: 'integer' },
    createdAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time' },
    outcome: outcomeSchema,
    history: { type: 'array', items: { type: 'object', properties: { at: { type: 'string' }, phase: { type: 'string' }, detail: { type: 'string' } } } },
  },
} as const;

export const firmwareImageSchema = {
  $id: 'FirmwareImage',
  type: 'object',
  required: ['id', 'name', 'version', 'size', 'sha256'],
  properties: {
    id: { type: 'string', description: 'First 16 hex digits of the SHA-256 of the image.' },
    name: { type: 'string' },
    version: { type: 'string' },
    size: { type: 'integer' },
    bodySize: { type: 'integer' },
    sha256: { type: 'string' },
    fileName: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const firmwareCampaignSchema = {
  $id: 'FirmwareCampaign',
  type: 'object',
  required: ['id', 'state', 'image', 'method', 'total', 'counts'],
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: ['running', 'done', 'cancelled'] },
    image: { type: 'string' },
    method: { type: 'string' },
    protocol: { type: 'string' },
    concurrency: { type: 'integer' },
    total: { type: 'integer' },
    counts: { type: 'object', additionalProperties: { type: 'integer' } },
    createdAt: { type: 'string' },
    finishedAt: { type: 'string' },
    devices: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          endpoint: { type: 'string' }, status: { type: 'string' }, jobId: { type: 'string' }, phase: { type: 'string' },
          percent: { type: ['number', 'null'] }, outcome: outcomeSchema,
        },
      },
    },
  },
} as const;

export const firmwareSchemas = [firmwareJobSchema, firmwareImageSchema, firmwareCampaignSchema] as const;

interface StartBody extends FotaStartSpec {
  image: string;
}

interface UploadJson {
  name: string;
  version: string;
  bodyBase64: string;
}

/** FotaError / ImageStoreError → the API's error answer. */
function apiErrorOf(e: unknown): unknown {
  if (isFotaError(e) || isImageStoreError(e)) return new ApiError(e.httpStatus, e.code, e.message);
  return e;
}

async function mapped<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw apiErrorOf(e);
  }
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range; RFC 9110 §14.1.2). undefined: ignore the header; 'unsatisfiable': 416. */
export function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined; // several ranges or another unit: answer the whole representation (§14.2 allows it)
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== '' && Number(b) < start) return undefined; // invalid range-spec: ignored (§14.1.1)
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

function serveImage(req: FastifyRequest, reply: FastifyReply, image: StoredImage): FastifyReply {
  const etag = `"${image.etag.toString('hex')}"`;
  reply.header('accept-ranges', 'bytes').header('etag', etag).type('application/octet-stream');
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined && ifNoneMatch.split(',').map((s) => s.trim()).includes(etag)) return reply.code(304).send();
  const rangeHeader = req.headers.range;
  const ifRange = req.headers['if-range'];
  // RFC 9110 §13.1.5: a Range with an If-Range that does not match is answered with the whole image.
  const range = rangeHeader !== undefined && (ifRange === undefined || ifRange === etag) ? parseRange(rangeHeader, image.size) : undefined;
  if (range === 'unsatisfiable') {
    return reply.code(416).header('content-range', `bytes */${image.size}`).send();
  }
  if (range) {
    const body = image.data.subarray(range.start, range.end + 1);
    return reply.code(206)
      .header('content-range', `bytes ${range.start}-${range.end}/${image.size}`)
      .header('content-length', String(body.length))
      .send(body);
  }
  return reply.code(200).header('content-length', String(image.size)).send(image.data);
}

export function registerFirmwareRoutes(app: FastifyInstance, fota: FotaService): void {
  for (const s of firmwareSchemas) app.addSchema(s);
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_IMAGE_UPLOAD }, (_req, body, done) => done(null, body));
  const tags = ['firmware'];
  const epParams = { type: 'object', required: ['ep'], properties: { ep: endpointParam } } as const;
  const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 255 } } } as const;

  app.post<{ Params: { ep: string }; Body: StartBody }>('/api/v1/clients/:ep/firmware', {
    schema: {
      tags, summary: 'Start a firmware update of the client (one job per client)', operationId: 'startFirmwareUpdate',
      params: epParams, body: startBodySchema, response: { 202: ref('FirmwareJob'), ...errorResponses },
    },
  }, async (req, reply) => {
    const { image, ...spec } = req.body;
    const job = await mapped(() => fota.start(req.params.ep, image, spec));
    const location = `/api/v1/clients/${encodeURIComponent(req.params.ep)}/firmware`;
    return reply.code(202).header('location', location).send(job.snapshot());
  });

  app.get<{ Params: { ep: string } }>('/api/v1/clients/:ep/firmware', {
    schema: {
      tags, summary: "The client's latest firmware job: phase, bytes sent, percent, outcome", operationId: 'getFirmwareUpdate',
      params: epParams, response: { 200: ref('FirmwareJob'), ...errorResponses },
    },
  }, async (req) => {
    const job = fota.job(req.params.ep);
    if (!job) throw new ApiError(404, 'FOTA_NOT_FOUND', `${req.params.ep} has no firmware job`);
    return job.snapshot();
  });

  app.delete<{ Params: { ep: string } }>('/api/v1/clients/:ep/firmware', {
    schema: {
      tags, summary: "Cancel the client's firmware job (/5/0/10 Cancel, else the reset); 409 once Update was executed",
      operationId: 'cancelFirmwareUpdate', params: epParams, response: { 202: ref('FirmwareJob'), ...errorResponses },
    },
  }, async (req, reply) => {
    const { job } = await mapped(() => fota.cancel(req.params.ep));
    return reply.code(202).send(job.snapshot());
  });

  app.post<{ Body: Buffer | UploadJson }>('/api/v1/firmware/images', {
    bodyLimit: MAX_IMAGE_UPLOAD,
    schema: {
      tags, summary: 'Upload a firmware image (application/octet-stream: the LWFW image; JSON: name, version, bodyBase64 to build one)',
      operationId: 'uploadFirmwareImage',
      consumes: ['application/octet-stream', 'application/json'],
      body: {
        description: 'The image bytes (application/octet-stream), or `{name, version, bodyBase64}` (application/json).',
        oneOf: [
          { type: 'string', format: 'binary' },
          {
            type: 'object', additionalProperties: false, required: ['name', 'version', 'bodyBase64'],
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 255 },
              version: { type: 'string', minLength: 1, maxLength: 255 },
              bodyBase64: { type: 'string', maxLength: 90_000_000, pattern: '^[A-Za-z0-9+/=\\s]*$' },
            },
          },
        ],
      },
      response: { 201: ref('FirmwareImage'), ...errorResponses },
    },
    // The binary body is a Buffer: validate only the JSON form.
    validatorCompiler: ({ schema }) => {
      const json = (schema as { oneOf?: unknown[] }).oneOf?.[1] as { required: string[] } | undefined;
      return (data: unknown) => {
        if (Buffer.isBuffer(data)) return { value: data };
        if (typeof data !== 'object' || data === null || Array.isArray(data)) return { error: new Error('body must be an image (application/octet-stream) or {name, version, bodyBase64}') };
        const o = data as Record<string, unknown>;
        for (const k of json?.required ?? []) if (typeof o[k] !== 'string' || o[k] === '') return { error: new Error(`body/${k} must be a non-empty string`) };
        const extra = Object.keys(o).filter((k) => !['name', 'version', 'bodyBase64'].includes(k));
        if (extra.length > 0) return { error: new Error(`body has unknown properties: ${extra.join(', ')}`) };
        return { value: data };
      };
    },
  }, async (req, reply) => {
    const body = req.body;
    const image = await mapped(() => {
      if (Buffer.isBuffer(body)) return fota.store.add(body);
      return fota.store.build({ name: body.name, version: body.version, body: Buffer.from(body.bodyBase64, 'base64') });
    });
    return reply.code(201).header('location', `/api/v1/firmware/images/${image.id}`).send(imageInfo(image));
  });

  app.get('/api/v1/firmware/images', {
    schema: {
      tags, summary: 'The firmware images the server holds', operationId: 'listFirmwareImages',
      response: { 200: { type: 'object', required: ['images'], properties: { images: { type: 'array', items: ref('FirmwareImage') } } } },
    },
  }, async () => ({ images: fota.store.list().map(imageInfo) }));

  app.get<{ Params: { id: string } }>('/api/v1/firmware/images/:id', {
    schema: { tags, summary: 'One firmware image', operationId: 'getFirmwareImage', params: idParams, response: { 200: ref('FirmwareImage'), ...errorResponses } },
  }, async (req) => imageInfo(await mapped(() => fota.store.resolve(req.params.id))));

  app.delete<{ Params: { id: string } }>('/api/v1/firmware/images/:id', {
    schema: { tags, summary: 'Forget a firmware image', operationId: 'deleteFirmwareImage', params: idParams, response: { 204: { type: 'null' }, ...errorResponses } },
  }, async (req, reply) => {
    const img = fota.store.get(req.params.id);
    if (!img || !fota.store.delete(img.id)) throw new ApiError(404, 'FOTA_IMAGE_NOT_FOUND', `no firmware image ${JSON.stringify(req.params.id)}`);
    return reply.code(204).send();
  });

  app.post<{ Body: CampaignSpec }>('/api/v1/firmware/campaigns', {
    schema: {
      tags, summary: 'Update many clients: a list or a glob of endpoints, bounded concurrency', operationId: 'startFirmwareCampaign',
      body: campaignBodySchema, response: { 202: ref('FirmwareCampaign'), ...errorResponses },
    },
  }, async (req, reply) => {
    const body = req.body;
    await mapped(() => fota.store.resolve(body.image));
    const c = await mapped(() => fota.createCampaign(body));
    return reply.code(202).header('location', `/api/v1/firmware/campaigns/${c.id}`).send(c.snapshot());
  });

  app.get('/api/v1/firmware/campaigns', {
    schema: {
      tags, summary: 'Campaigns (without the per-device list)', operationId: 'listFirmwareCampaigns',
      response: { 200: { type: 'object', required: ['campaigns'], properties: { campaigns: { type: 'array', items: ref('FirmwareCampaign') } } } },
    },
  }, async () => ({ campaigns: fota.listCampaigns().map((c) => c.snapshot(false)) }));

  app.get<{ Params: { id: string } }>('/api/v1/firmware/campaigns/:id', {
    schema: {
      tags, summary: 'Campaign progress and a result per device', operationId: 'getFirmwareCampaign',
      params: idParams, response: { 200: ref('FirmwareCampaign'), ...errorResponses },
    },
  }, async (req) => {
    const c = fota.campaign(req.params.id);
    if (!c) throw new ApiError(404, 'FOTA_NOT_FOUND', `no campaign ${JSON.stringify(req.params.id)}`);
    return c.snapshot();
  });

  app.delete<{ Params: { id: string } }>('/api/v1/firmware/campaigns/:id', {
    schema: {
      tags, summary: 'Cancel a campaign: queued devices are dropped, running jobs cancelled', operationId: 'cancelFirmwareCampaign',
      params: idParams, response: { 202: ref('FirmwareCampaign'), ...errorResponses },
    },
  }, async (req, reply) => {
    const c = fota.campaign(req.params.id);
    if (!c) throw new ApiError(404, 'FOTA_NOT_FOUND', `no campaign ${JSON.stringify(req.params.id)}`);
    c.cancel('campaign cancelled by request');
    return reply.code(202).send(c.snapshot());
  });

  app.get<{ Params: { imageId: string }; Querystring: { ep?: string } }>('/fw/:imageId', {
    schema: {
      tags, summary: 'A firmware image for HTTP pull (Range requests: 206, 416; ETag; HEAD)', operationId: 'downloadFirmwareImage',
      params: { type: 'object', required: ['imageId'], properties: { imageId: { type: 'string', minLength: 1, maxLength: 255 } } },
      querystring: { type: 'object', properties: { ep: { type: 'string', maxLength: 1024, description: 'The endpoint pulling (counts towards its job progress).' } } },
      headers: { type: 'object', properties: { range: { type: 'string', description: 'bytes=start-end (one range)' } } },
      response: {
        200: { description: 'The whole image.', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
        206: { description: 'The requested range.', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
        304: { description: 'Not modified (If-None-Match).', type: 'null' },
        416: { description: 'Range not satisfiable (Content-Range: bytes */size).', type: 'null' },
        ...errorResponses,
      },
    },
  }, async (req, reply) => {
    const image = fota.store.get(req.params.imageId);
    if (!image) throw new ApiError(404, 'FOTA_IMAGE_NOT_FOUND', `no firmware image ${JSON.stringify(req.params.imageId)}`);
    const sent = serveImage(req, reply, image);
    const end = reply.statusCode === 206 ? Number(/-(\d+)\//.exec(String(reply.getHeader('content-range')))?.[1] ?? -1) + 1 : reply.statusCode === 200 ? image.size : 0;
    if (req.query.ep !== undefined && end > 0 && req.method === 'GET') fota.noteServed(req.query.ep, image, end);
    return sent;
  });
}
