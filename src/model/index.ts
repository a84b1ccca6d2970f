export * from './types.js';
export * from './node.js';
