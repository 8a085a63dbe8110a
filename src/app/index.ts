// The applications on top of the method, training and evaluation: `infer` (a release config's
// translation of cases), the bundled demo, and the local web app.
export { infer, type InferOptions, type InferEvent, type InferResult } from './infer.js';
export { findCases, type Case, type CaseOptions } from './cases.js';
export { runDemo, type DemoOptions, type DemoResult } from './demo.js';
export { startServer, type ServeOptions, type AppServer } from './server.js';
