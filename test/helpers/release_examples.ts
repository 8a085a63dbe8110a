// The release's example input (real data no one here made), beside the checkout as CI has it.
// Tests that read it run where it is present and say clearly where it is not.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const RELEASE_EXAMPLES = resolve(repoRoot, '../shared/reference/examples/synthetic_scenarios');
// the release's four configs, kept unchanged in configs/ (so tests of them run without the examples)
export const RELEASE_CONFIGS = resolve(repoRoot, 'configs');

/** True when the examples are here; otherwise prints a notice and skips the test. */
export function haveReleaseExamples(t: { skip(message?: string): void }): boolean {
  if (existsSync(RELEASE_EXAMPLES)) return true;
  const message = `release examples not found at ${RELEASE_EXAMPLES}: this test of real release data did not run`;
  console.log(`# NOTICE: ${message}`);
  t.skip(message);
  return false;
}
