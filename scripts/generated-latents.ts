// The transformer's one-step outputs of a split, as a decoder's training data (train-vae's
// data.generated; src/train/generated_latents.ts). Resumable: files already there are kept.
// Usage: node dist/scripts/generated-latents.js --model DIR --data SPLIT_DIR --out DIR [--cases N]
import { writeGeneratedLatents } from '../src/train/generated_latents.js';
import { onInterrupt } from '../src/cli/interrupt.js';
import { Stopped } from '../src/errors.js';

const args = process.argv.slice(2);
const options = new Map<string, string>();
for (let i = 0; i < args.length; i += 2) options.set(args[i]!, args[i + 1]!);
const model = options.get('--model'),
  data = options.get('--data'),
  out = options.get('--out');
if (!model || !data || !out)
  throw new Error('usage: generated-latents --model DIR --data SPLIT_DIR --out DIR [--cases N]');
const cases = options.has('--cases') ? Number(options.get('--cases')) : undefined;
const interrupt = onInterrupt('stopping after this case (Ctrl-C again to quit now)');
const started = performance.now();
try {
  const { written, kept } = await writeGeneratedLatents({
    model,
    data,
    out,
    cases,
    signal: interrupt.controller.signal,
    onProgress: (done, total) => {
      if (done % 20 === 0 || done === total)
        console.log(`${done}/${total} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    },
  });
  console.log(`${out}: ${written} written, ${kept} kept`);
} catch (error) {
  // one line naming what was wrong; the files written so far are kept
  console.error(`generated-latents: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = error instanceof Stopped ? 130 : 1;
} finally {
  interrupt.release();
}
