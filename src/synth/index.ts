// The synthetic ego/exo world: needs no tensor engine (import it alone to avoid loading libtorch).
export { synthesize, validateSynthOptions, SynthConfigError, type SynthOptions, type SynthResult } from './run.js';
