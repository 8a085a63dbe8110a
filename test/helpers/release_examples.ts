// The release's example input (real data no one here made): its first five frames of each view
// and its reference image, in its exact folder layout, shipped in test/fixtures/release_example/
// (from the release's examples/synthetic_scenarios/), so the tests of real release data run on a
// bare clone.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const RELEASE_EXAMPLES = resolve(repoRoot, 'test/fixtures/release_example');
// the release's four configs, kept unchanged in configs/
export const RELEASE_CONFIGS = resolve(repoRoot, 'configs');
