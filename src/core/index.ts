export * from './errors.js';
export * from './path.js';
export * from './clock.js';
export * from './logger.js';
