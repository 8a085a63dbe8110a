// Ctrl-C for long commands: the first one asks the work to stop at its next safe point (between
// denoising or training steps) through an AbortSignal; a second one quits at once.
import { Stopped } from '../errors.js';

/** The run stopped because the user asked (exit code 130, as a shell reports SIGINT). */
export class Interrupted extends Stopped {
  override name = 'Interrupted';
}

export function onInterrupt(message: string): { controller: AbortController; release: () => void } {
  const controller = new AbortController();
  const handler = (): void => {
    if (controller.signal.aborted) process.exit(130);
    console.error(`\n${message}`);
    controller.abort();
  };
  process.on('SIGINT', handler);
  return { controller, release: () => void process.off('SIGINT', handler) };
}
