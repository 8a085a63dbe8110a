// Child process of the memory test: N iterations (argv, default 1000), each holding eight tensors of 1 to 8 MiB
// (sizes that change from one iteration to the next) past a small allocator cache; prints the
// RSS growth after warm-up and the live tensor bytes at the end, as JSON.
import { Generator, memoryStats, noGrad, randn, scope, type Tensor } from '../../src/torch/index.js';

const iterations = Number(process.argv[2] ?? 1000);
const g = new Generator(0);
const step = (i: number): number =>
  scope(() =>
    noGrad(() => {
      const ts: Tensor[] = [];
      for (let k = 0; k < 8; k++) ts.push(randn([256 + ((i * 7 + k * 13) % 32) * 64, 1024], g).tanh());
      return ts.reduce((a, b) => a.sum().add(b.sum())).item();
    }),
  );
for (let i = 0; i < 50; i++) step(i);
const before = process.memoryUsage().rss;
for (let i = 50; i < 50 + iterations; i++) step(i);
console.log(
  JSON.stringify({ growthMiB: (process.memoryUsage().rss - before) / 2 ** 20, live: memoryStats().allocatedBytes }),
);
