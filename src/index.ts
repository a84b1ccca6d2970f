export * from './core/index.js';
export * from './model/index.js';
export * from './codec/index.js';
export * from './client/index.js';
