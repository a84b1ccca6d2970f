export * from './psk-store.js';
export * from './psk-csv.js';
export * from './authorizer.js';
export * from './bootstrap-psk.js';
export * from './secure-socket.js';
