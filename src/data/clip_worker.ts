// A worker process of ClipLoaderPool: decodes and transforms windows while the trainer computes.
import { WorldWanderError } from '../errors.js';
import { loadWindow, type WindowRequest } from './clip_loader.js';

process.on('message', ({ id, request }: { id: number; request: WindowRequest }) => {
  loadWindow(request).then(
    (window) => process.send!({ id, window }),
    (error: Error) =>
      process.send!({
        id,
        error: { message: error.message, expected: error instanceof WorldWanderError || 'code' in error },
      }),
  );
});
process.on('disconnect', () => process.exit(0));
