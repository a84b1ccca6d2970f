export * from './types.js';
export * from './node.js';
export * from './ddf-loader.js';
export * from './registry.js';
export * from './builtin.js';
