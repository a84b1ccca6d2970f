// Placeholder: the dispatch by content-format number is filled in once the codecs land.
export * from './content-format.js';
export * from './types.js';
