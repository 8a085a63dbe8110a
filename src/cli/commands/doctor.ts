import { engineInfo } from '../../torch/index.js';
import { parseFlags } from '../args.js';
import type { Command } from '../command.js';

export const doctor: Command = {
  usage: 'worldwander doctor [--json]',
  async run(args) {
    const { flags } = parseFlags(args, { values: [], booleans: ['json'] });
    const info = engineInfo();
    if (flags.json) {
      console.log(JSON.stringify(info, null, 2));
      return 0;
    }
    const lines: [string, string][] = [
      ['libtorch', info.libtorchVersion],
      ['cuda', info.cudaAvailable ? `yes, ${info.cudaDeviceCount} device(s)` : 'no'],
      ['intra-op threads', String(info.intraOpThreads)],
      ['cpu capability', info.cpuCapability ?? 'unknown'],
      ['blas', info.blas.length ? `${info.blasKind}: ${info.blas.join(', ')}` : 'none mapped (libtorch may use its own)'],
      ['bf16', info.bf16Supported ? 'yes' : 'no'],
      ['native attention', info.nativeAttention ? 'yes (scaled_dot_product_attention)' : 'no (math fallback, libtorch < 2.0)'],
    ];
    for (const [key, value] of lines) console.log(`${key.padEnd(18)} ${value}`);
    if (info.blasKind === 'reference') {
      console.log('\nwarning: the reference BLAS is live; matmuls run ~60x slower. Install libopenblas0-pthread.');
    }
    return 0;
  },
};
