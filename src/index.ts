export * from './core/index.js';
export * from './model/index.js';
export * from './codec/index.js';
export * from './client/index.js';
export * from './transport/datagram.js';
export * from './transport/udp.js';
export * from './transport/memory.js';
export * from './transport/gated.js';
