export * from './codec.js';
export * from './events.js';
export * from './headers.js';
export * from './optimize.js';
export * from './schemas.js';
export * from './subjects.js';
