export * from './context.js';
export * from './instance.js';
export * from './object.js';
export * from './object-tree.js';
export * from './access.js';
export * from './attributes.js';
export * from './notifier.js';
export * from './observations.js';
export * from './request.js';
export * from './router.js';
export * from './connection.js';
export * from './coap-connection.js';
export * from './binding.js';
export * from './registration.js';
export * from './client.js';
export * from './device-factory.js';
export * from './generators.js';
export * from './objects/generic.js';
export * from './objects/security.js';
export * from './objects/server.js';
export * from './objects/acl.js';
export * from './objects/device.js';
export * from './objects/connectivity.js';
export * from './objects/firmware.js';
export * from './objects/location.js';
export * from './objects/connectivity-stats.js';
export {
  FirmwareUpdater, ImageRejected, memoryFlash,
  type FirmwareFlash, type FirmwareFlashRecord, type FirmwareOutcome, type FirmwareUpdateOptions,
} from './firmware/updater.js';
export type { FailureInjection } from './firmware/failure.js';
export type { Downloader, DownloadOutcome, DownloadRequest } from './firmware/download.js';
export { registerWriteStream, type ResourceStreamOpener } from './operations/write-stream.js';
