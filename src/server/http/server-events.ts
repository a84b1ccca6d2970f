import type { LwM2MServer, NotificationEvent, SendEvent } from '../lwm2m-server.js';
import type { Registration } from '../registration/registration.js';
import { clientJson } from './client-json.js';
import { readBody } from './dm-jobs.js';
import { deviceFailure } from './errors.js';
import type { EventHub } from './events.js';

/**
 * Publishes the LwM2M server's events on the event stream: `registration`, `update`, `deregistration`,
 * `expiry` (data: the client as `GET /api/v1/clients/{ep}` shows it), `notification` (endpoint, path,
 * and the read body — or the error body of a failed notification), `send` (endpoint, values).
 * Returns the function that detaches the listeners.
 */
export function publishServerEvents(lwm2m: LwM2MServer, hub: EventHub): () => void {
  const now = (): string => new Date().toISOString();
  const client = (r: Registration): ReturnType<typeof clientJson> => clientJson(r, lwm2m.registrations.expiresAt(r));
  const onRegistered = (r: Registration): void => {
    hub.publish('registration', { time: now(), ...client(r) }, r.endpoint);
  };
  const onUpdated = (r: Registration, objectsChanged: boolean): void => {
    hub.publish('update', { time: now(), objectsChanged, ...client(r) }, r.endpoint);
  };
  const onDeregistered = (r: Registration): void => {
    hub.publish('deregistration', { time: now(), endpoint: r.endpoint, registrationId: r.registrationId }, r.endpoint);
  };
  const onExpired = (r: Registration): void => {
    hub.publish('expiry', { time: now(), endpoint: r.endpoint, registrationId: r.registrationId }, r.endpoint);
  };
  const onNotification = (e: NotificationEvent): void => {
    const body = e.result.ok ? readBody(e.result) : deviceFailure(e.result, `notification ${e.path}`).body;
    hub.publish('notification', {
      time: now(), endpoint: e.endpoint, path: e.path, ...(e.paths ? { paths: e.paths } : {}), ok: e.result.ok,
      ...(body as Record<string, unknown>),
    }, e.endpoint);
  };
  const onSend = (e: SendEvent): void => {
    hub.publish('send', { time: now(), endpoint: e.endpoint, values: e.values }, e.endpoint);
  };
  lwm2m.on('registered', onRegistered);
  lwm2m.on('updated', onUpdated);
  lwm2m.on('deregistered', onDeregistered);
  lwm2m.on('expired', onExpired);
  lwm2m.on('notification', onNotification);
  lwm2m.on('send', onSend);
  return () => {
    lwm2m.off('registered', onRegistered);
    lwm2m.off('updated', onUpdated);
    lwm2m.off('deregistered', onDeregistered);
    lwm2m.off('expired', onExpired);
    lwm2m.off('notification', onNotification);
    lwm2m.off('send', onSend);
  };
}
