/**
 * Platform profiles of the reference server: ThingsBoard LwM2M device profiles and credentials,
 * Cumulocity bulk-registration CSV, and what they become (PSKs, bootstrap configs, named telemetry).
 */
export { pskEntries, type ConnectionMode, type ConnectionSecurity, type DeviceCredentialRecord, type ImportedPsk } from './credentials.js';
export { detectDelimiter, parseCsvTolerant, type CsvSyntaxIssue } from './csv.js';
export * from './cumulocity.js';
export { ProfileFileError, formatIssue as formatProfileIssue, type IssueSeverity, type ProfileIssue } from './issues.js';
export * from './server-import.js';
export * from './telemetry-store.js';
export * from './thingsboard/adapter.js';
export * from './thingsboard/applier.js';
export * from './thingsboard/credentials.js';
export * from './thingsboard/path.js';
export * from './thingsboard/profile.js';
export * from './platform-import.js';
export * from './awake-time.js';
export * from './http-routes.js';
