export * from './config.js';
export * from './perception.js';
