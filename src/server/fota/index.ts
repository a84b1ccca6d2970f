/** Server-side firmware update (issue 7): images, per-device jobs, campaigns, the `/fw/{id}` CoAP resource. */
export { FirmwareImageStore, ImageStoreError, imageInfo, isImageStoreError, type ImageInfo, type ImageStoreOptions, type StoredImage } from './image-store.js';
export { coapImageHandler, type CoapImageRouteOptions, type ImageServed } from './coap-images.js';
export { FW, lwm2mDeviceLink, type DeviceEvent, type DeviceLink, type PushOptions } from './device-link.js';
export { FotaJob, type CancelAnswer, type FotaJobOptions } from './job.js';
export { Campaign, type CampaignDeviceResult, type CampaignDeviceStatus, type CampaignSnapshot, type CampaignSpec } from './campaign.js';
export { FotaError, FotaService, globToRegExp, isFotaError, type FotaErrorCode, type FotaServiceEvents, type FotaServiceOptions } from './service.js';
export * from './types.js';
