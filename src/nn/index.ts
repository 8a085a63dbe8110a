export * from './module.js';
export * from './init.js';
export * from './linear.js';
export * from './norms.js';
export * from './conv.js';
export * from './feedforward.js';
export * from './lora.js';
export * from './checkpoint.js';
