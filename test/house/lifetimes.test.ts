// One lifetime idiom (docs/engine.md): `consume` only in the model blocks' memory hot paths, and
// no try/finally whose only work is to dispose what `using` would release.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { repoRoot } from '../helpers/release_examples.js';

const SRC = path.join(repoRoot, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sources(full) : name.endsWith('.ts') ? [full] : [];
  });
}

const relative = (file: string): string => path.relative(SRC, file).split(path.sep).join('/');

test('consume() is used only in src/models/ (the blocks whose activations go as the next exists)', () => {
  const outside = sources(SRC)
    .filter((file) => !relative(file).startsWith('models/') && relative(file) !== 'torch/scope.ts')
    .filter((file) => /\bconsume\(/.test(readFileSync(file, 'utf8')))
    .map(relative);
  assert.deepEqual(outside, []);
});

test('no `finally` block does nothing but dispose (that is what `using` is for)', () => {
  const found: string[] = [];
  // the generator's state is a native handle, below the Tensor wrapper that `using` knows
  for (const file of sources(SRC).filter((f) => relative(f) !== 'torch/generator.ts')) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/finally \{\n((?:[^\n]*\n)*?)\s*\}/g)) {
      const lines = m[1]!
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      if (lines.length && lines.every((l) => /^[\w.?#[\]]+\.dispose\(\);$/.test(l)))
        found.push(`${relative(file)}: finally { ${lines.join(' ')} }`);
    }
  }
  assert.deepEqual(found, []);
});
