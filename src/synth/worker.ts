import { parentPort, workerData } from 'node:worker_threads';
import { WorldWanderError } from '../errors.js';
import { writeSample, type FileRecord, type OutputFormat } from './output.js';
import type { RenderSize } from './sample.js';
import { makeSampleSpec } from './spec.js';

/** What the main thread gives every worker at start. */
export interface WorkerSetup {
  out: string;
  seed: number;
  size: RenderSize;
  format: OutputFormat;
}

export type ToWorker = { type: 'sample'; index: number } | { type: 'stop' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'done'; index: number; frames: number; files: FileRecord[] }
  | { type: 'error'; index: number; expected: boolean; message: string; stack?: string };

/** Renders and writes whole samples, one index at a time, as the main thread hands them out. */
function serve(): void {
  const port = parentPort;
  if (!port) throw new Error('synth worker: must run in a worker thread');
  const setup = workerData as WorkerSetup;
  const send = (message: FromWorker): void => port.postMessage(message);
  port.on('message', (message: ToWorker) => {
    if (message.type === 'stop') {
      port.close();
      return;
    }
    const { index } = message;
    writeSample(setup.out, makeSampleSpec(setup.seed, index), setup.size, setup.format).then(
      ({ frames, files }) => send({ type: 'done', index, frames, files }),
      (error: Error) =>
        send({
          type: 'error',
          index,
          expected: error instanceof WorldWanderError || typeof (error as NodeJS.ErrnoException).code === 'string',
          message: error.message,
          stack: error.stack,
        }),
    );
  });
  send({ type: 'ready' });
}

serve();
