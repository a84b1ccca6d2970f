import type { Logger } from '../../core/logger.js';
import { lwm2mDeviceLink } from '../fota/device-link.js';
import { FotaService } from '../fota/service.js';
import type { CampaignSnapshot } from '../fota/campaign.js';
import type { FotaJobSnapshot, FotaProtocol } from '../fota/types.js';
import type { LwM2MServer } from '../lwm2m-server.js';
import { MAX_PAGE_LIMIT } from '../registration/store.js';
import type { FotaHttpOptions } from './api.js';
import type { EventHub } from './events.js';
import type { QueueModeDispatcher } from './queue-mode.js';

/**
 * The FOTA service the HTTP API creates: DM requests through the LwM2M server, queue-mode sleep from the
 * API's dispatcher, `/fw/{id}` served on the server's CoAP socket(s), pull URIs from the server's and the
 * API's addresses.
 */
export function createApiFota(
  lwm2m: LwM2MServer, options: FotaHttpOptions, host: string, dispatcher: QueueModeDispatcher, logger: Logger, apiUrl: () => string | undefined,
): FotaService {
  const { coapUri, coapsUri, httpUri, httpsUri, ...rest } = options;
  const shown = (address: string): string => {
    const a = address === '0.0.0.0' || address === '::' ? host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host : address;
    return a.includes(':') ? `[${a}]` : a;
  };
  const fota = new FotaService({
    logger,
    ...rest,
    link: lwm2mDeviceLink(lwm2m, { isAsleep: (ep) => dispatcher.isAsleep(ep) }),
    endpoints: () => registeredEndpoints(lwm2m),
    pullBase: () => {
      const bases: Partial<Record<FotaProtocol, string>> = {};
      const a = lwm2m.endpoint.address();
      bases.coap = coapUri ?? `coap://${shown(a.address)}:${a.port}`;
      const securePort = lwm2m.securePort;
      const coaps = coapsUri ?? (securePort !== undefined ? `coaps://${shown(a.address)}:${securePort}` : undefined);
      if (coaps !== undefined) bases.coaps = coaps;
      const http = httpUri ?? apiUrl();
      if (http !== undefined) bases.http = http;
      if (httpsUri !== undefined) bases.https = httpsUri;
      return bases;
    },
  });
  fota.attachCoap(lwm2m);
  return fota;
}

/** Every registered endpoint, page by page (bounded by the store's count). */
function registeredEndpoints(lwm2m: LwM2MServer): string[] {
  const store = lwm2m.registrations.store;
  const out: string[] = [];
  let cursor: string | undefined;
  const pages = Math.ceil(store.count() / MAX_PAGE_LIMIT) + 1;
  for (let i = 0; i < pages; i++) {
    const page = store.list({ limit: MAX_PAGE_LIMIT, ...(cursor !== undefined ? { cursor } : {}) });
    for (const r of page.items) out.push(r.endpoint);
    if (page.nextCursor === undefined) break;
    cursor = page.nextCursor;
  }
  return out;
}

/** `firmware` events on the event stream: every job phase change and progress step, and campaign changes. */
export function publishFotaEvents(fota: FotaService, hub: EventHub): () => void {
  const job = (s: FotaJobSnapshot): void => {
    hub.publish('firmware', {
      kind: 'job', time: new Date().toISOString(), endpoint: s.endpoint, jobId: s.id,
      ...(s.campaignId !== undefined ? { campaignId: s.campaignId } : {}),
      state: s.phase, deviceState: s.deviceState, result: s.updateResult, percent: s.percent, bytesSent: s.bytesSent,
      ...(s.outcome ? { outcome: s.outcome } : {}),
    }, s.endpoint);
  };
  const campaign = (c: CampaignSnapshot): void => {
    hub.publish('firmware', { kind: 'campaign', time: new Date().toISOString(), campaignId: c.id, state: c.state, total: c.total, counts: c.counts });
  };
  fota.on('job', job);
  fota.on('campaign', campaign);
  return () => {
    fota.off('job', job);
    fota.off('campaign', campaign);
  };
}
