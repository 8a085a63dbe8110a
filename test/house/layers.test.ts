// The layers of src/ (docs/layout.md): each folder imports only from folders below it, so data
// flows one way and nothing imports from a room above it. Read from the sources' import lines.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { repoRoot } from '../helpers/release_examples.js';

/** Lowest first; folders of one rank do not import each other. */
export const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts'],
  ['io'],
  ['torch'],
  ['nn', 'diffusion'],
  ['models'],
  ['data'],
  ['synth', 'worldwander'],
  ['eval'],
  ['train', 'app'],
  ['cli', 'index.ts'],
];

const SRC = path.join(repoRoot, 'src');
const rankOf = new Map(LAYERS.flatMap((names, rank) => names.map((n) => [n, rank] as const)));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sources(full) : name.endsWith('.ts') ? [full] : [];
  });
}

const roomOf = (file: string): string => path.relative(SRC, file).split(path.sep)[0]!;

test('every import in src/ points down the layers (or stays in its folder)', () => {
  const wrong: string[] = [];
  for (const file of sources(SRC)) {
    const room = roomOf(file);
    const rank = rankOf.get(room);
    assert.notEqual(rank, undefined, `src/${room} has no layer in LAYERS (docs/layout.md)`);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(
      /(?:^|\n)\s*(?:import|export)[^'"\n;]*?from\s+'(\.[^']+)'/g,
    )) {
      const target = roomOf(path.resolve(path.dirname(file), spec!).replace(/\.js$/, '.ts'));
      if (target === room) continue;
      if (!(rankOf.get(target)! < rank!))
        wrong.push(`${path.relative(repoRoot, file)} imports ${spec} (${room} may not import ${target})`);
    }
  }
  assert.deepEqual(wrong, []);
});
