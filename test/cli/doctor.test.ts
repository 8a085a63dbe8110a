import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = path.join(root, 'bin', 'worldwander.js');

test('worldwander doctor --json reports the engine', () => {
  const info = JSON.parse(execFileSync(process.execPath, [cli, 'doctor', '--json'], { encoding: 'utf8' }));
  for (const key of [
    'libtorchVersion',
    'cudaAvailable',
    'cudaDeviceCount',
    'intraOpThreads',
    'bf16Supported',
    'nativeAttention',
    'blas',
  ]) {
    assert.ok(key in info, `missing ${key}`);
  }
  assert.match(info.libtorchVersion, /^\d+\.\d+\.\d+/);
  assert.equal(typeof info.cudaAvailable, 'boolean');
});

test('worldwander doctor prints a table; unknown flags and commands are clear errors', () => {
  const text = execFileSync(process.execPath, [cli, 'doctor'], { encoding: 'utf8' });
  assert.match(text, /^libtorch\s+\d/m);
  assert.match(text, /^native attention\s+(yes|no)/m);
  const run = (args: string[]) => {
    try {
      execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: 'pipe' });
      return { status: 0, stderr: '' };
    } catch (error) {
      const e = error as { status: number; stderr: string };
      return { status: e.status, stderr: e.stderr };
    }
  };
  const badFlag = run(['doctor', '--jsn']);
  assert.equal(badFlag.status, 2);
  assert.match(badFlag.stderr, /unknown option '--jsn'\n\(Did you mean --json\?\)/);
  const badCommand = run(['doctr']);
  assert.equal(badCommand.status, 2);
  assert.match(badCommand.stderr, /unknown command 'doctr'\n\(Did you mean doctor\?\)/);
});

test('a reader that goes away (worldwander train --help | head) ends the output quietly, not with a stack trace', async () => {
  const child = spawn(process.execPath, [cli, 'train', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy(); // closed before node has started, let alone written (commander writes to stdout itself)
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(stderr, '');
  assert.equal(status, 0);
});
