// Engine benchmark: a 2048³ float32 matmul through the binding and timed inside C++ in the same
// process, and the cost of a tiny op call. `npm run bench:engine -- --json` prints one JSON object.
import { dtypeCode } from '../src/torch/dtype.js';
import { native } from '../src/torch/native.js';
import { engineInfo, Generator, noGrad, randn, scope, synchronize, zeros } from '../src/torch/index.js';
import { median, timeIt } from './stats.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const device = args.find((a) => a.startsWith('--device='))?.slice(9) ?? 'cpu';
const n = 2048;
const runs = 7;
const flops = 2 * n ** 3;

const g = new Generator(0);
const a = randn([n, n], g, { device });
const b = randn([n, n], g, { device });

const binding = noGrad(() => {
  scope(() => a.matmul(b)); // warm-up
  return Array.from({ length: runs }, () =>
    timeIt(() =>
      scope(() => {
        a.matmul(b);
        synchronize(device);
      }),
    ),
  );
});
const inside = native.benchMatmul(n, runs, dtypeCode('float32'), device);
const insideBf16 = native.benchMatmul(n, runs, dtypeCode('bfloat16'), device);

// A tiny op: add on a 1-element tensor, wrapped and disposed, as the models call ops.
const tiny = zeros([1], { device });
const batches = Array.from({ length: 9 }, () => {
  const calls = 20_000;
  return (
    timeIt(() => {
      for (let i = 0; i < calls; i++) tiny.add(1).dispose();
    }) / calls
  );
});

// The same op through the dispatcher inside C++ (no Node-API), in this process: the binding's own
// cost is the difference, a figure that compares across machines where the absolute time does not.
const insideTiny = native.benchTinyOp(20_000, 9, device);
const opUs = median(batches) * 1e6,
  nativeUs = median(insideTiny) * 1e6;

const result = {
  device,
  libtorch: engineInfo().libtorchVersion,
  threads: engineInfo().intraOpThreads,
  matmul_n: n,
  matmul_gflops: flops / median(binding) / 1e9,
  matmul_gflops_native: flops / median(inside) / 1e9,
  matmul_gflops_bf16_native: flops / median(insideBf16) / 1e9,
  op_call_us: opUs,
  op_call_native_us: nativeUs,
  /** What the binding adds to an op call: the difference, and the ratio of the two. */
  binding_overhead_us: opUs - nativeUs,
  binding_overhead_ratio: opUs / nativeUs,
};
if (json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`libtorch ${result.libtorch} on ${device}, ${result.threads} threads`);
  console.log(
    `matmul ${n}³ float32: ${result.matmul_gflops.toFixed(1)} GFLOP/s through the binding, ${result.matmul_gflops_native.toFixed(1)} inside C++`,
  );
  console.log(`matmul ${n}³ bfloat16 inside C++: ${result.matmul_gflops_bf16_native.toFixed(1)} GFLOP/s`);
  console.log(
    `tiny op call: ${result.op_call_us.toFixed(2)} µs through the binding, ${result.op_call_native_us.toFixed(2)} µs through the dispatcher inside C++: the binding adds ${result.binding_overhead_us.toFixed(2)} µs (${result.binding_overhead_ratio.toFixed(2)}x)`,
  );
}
