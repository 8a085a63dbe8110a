import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, Progress } from '../../src/data/progress.js';

function fakeStream(isTTY: boolean): { isTTY: boolean; columns: number; text: string; write(t: string): void } {
  return {
    isTTY,
    columns: 100,
    text: '',
    write(t: string) {
      this.text += t;
    },
  };
}

test('a TTY gets a redrawn bar with count, rate and ETA', () => {
  let now = 0;
  const stream = fakeStream(true);
  const bar = new Progress('synth', 10, { stream, unit: 'samples', now: () => now });
  now = 2000;
  bar.tick(4);
  assert.match(stream.text, /^\rsynth \[#+\.+\] 40% 4\/10 2\.00 samples\/s ETA 3s/);
  now = 2050;
  bar.tick();
  assert.equal(stream.text.split('\r').length, 2, 'redraws at most every 100 ms');
  now = 5000;
  bar.tick(5);
  bar.finish();
  assert.ok(stream.text.endsWith('100% 10/10 2.00 samples/s in 5s\u001b[K\n'), JSON.stringify(stream.text));
});

test('a pipe gets occasional plain lines and a final one', () => {
  let now = 0;
  const stream = fakeStream(false);
  const bar = new Progress('synth', 100, { stream, lineInterval: 10, now: () => now });
  for (let i = 0; i < 100; i++) {
    now += 500;
    bar.tick();
  }
  bar.finish();
  const lines = stream.text.trim().split('\n');
  assert.equal(lines.length, 5, stream.text);
  assert.ok(!stream.text.includes('\r'));
  assert.match(lines[4]!, /100\/100/);
});

test('durations read as seconds, minutes or hours', () => {
  assert.equal(formatDuration(7.4), '7s');
  assert.equal(formatDuration(125), '2m05s');
  assert.equal(formatDuration(3 * 3600 + 61), '3h01m');
  assert.equal(formatDuration(Infinity), '--');
});

test('a running total sets the count: batches of 16 count 16 each', () => {
  let now = 0;
  const stream = fakeStream(true);
  const bar = new Progress('latent cache', 40, { stream, unit: 'clips', now: () => now });
  now = 1000;
  bar.update(16);
  now = 2000;
  bar.update(32);
  assert.match(stream.text.split('\r').at(-1)!, /80% 32\/40 16\.0 clips\/s ETA 1s/);
  now = 2500;
  bar.update(40);
  bar.finish();
  assert.ok(stream.text.endsWith('100% 40/40 16.0 clips/s in 3s\u001b[K\n'), JSON.stringify(stream.text));
});

test('a resumed run starts its bar where it stopped; the rate and ETA count only this run', () => {
  let now = 0;
  const stream = fakeStream(true);
  const bar = new Progress('train', 2300, { stream, unit: 'steps', initial: 1298, now: () => now });
  now = 10_000;
  bar.tick(2);
  // 2 steps in 10 s: 0.2 steps/s, 1000 left: 5000 s.
  assert.match(stream.text, /56% 1300\/2300 0\.20 steps\/s ETA 1h23m/);
});
