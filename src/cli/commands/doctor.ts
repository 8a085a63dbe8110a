import type { Register } from '../command.js';

export const register: Register = (program) => {
  program
    .command('doctor')
    .description('report the tensor engine: libtorch version, devices, threads, BLAS, bf16, attention kernel')
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      const { engineInfo } = await import('../../torch/index.js');
      const info = engineInfo();
      if (options.json) {
        console.log(JSON.stringify(info, null, 2));
        return;
      }
      const lines: [string, string][] = [
        ['libtorch', info.libtorchVersion],
        ['cuda', info.cudaAvailable ? `yes, ${info.cudaDeviceCount} device(s)` : 'no'],
        ['intra-op threads', String(info.intraOpThreads)],
        ['cpu capability', info.cpuCapability ?? 'unknown'],
        [
          'blas',
          info.blas.length ? `${info.blasKind}: ${info.blas.join(', ')}` : 'none mapped (libtorch may use its own)',
        ],
        ['openblas kernels', info.blasCore ?? '-'],
        [
          'bf16',
          !info.bf16Supported
            ? 'no'
            : info.bf16Fast
              ? 'yes, fast (AVX-512 BF16 / AMX): bf16-mixed training pays'
              : 'yes, slow (no bf16 instructions): train in float32',
        ],
        [
          'native attention',
          info.nativeAttention ? 'yes (scaled_dot_product_attention)' : 'no (math fallback, libtorch < 2.0)',
        ],
      ];
      for (const [key, value] of lines) console.log(`${key.padEnd(18)} ${value}`);
      if (info.blasKind === 'reference') {
        console.log('\nwarning: the reference BLAS is live; matmuls run ~60x slower. Install libopenblas0-pthread.');
      }
      if (info.blasCore === 'Prescott') {
        console.log(
          '\nwarning: OpenBLAS runs its generic kernels (it does not know this CPU); set OPENBLAS_CORETYPE (e.g. Haswell, SkylakeX).',
        );
      }
    });
};
