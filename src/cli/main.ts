import { UsageError, type Command } from './command.js';

interface CommandEntry {
  name: string;
  summary: string;
  /** Loaded on use, so that commands without the tensor engine (synth) run without the addon. */
  load(): Promise<Command>;
}

/** Every subcommand, in the order `worldwander help` lists them. */
const commands: CommandEntry[] = [
  {
    name: 'demo',
    summary: 'the bundled default run (npm start): engine check, the bundled synthetic dataset and its contact sheet',
    load: async () => (await import('./commands/demo.js')).demo,
  },
  {
    name: 'synth',
    summary: 'generate synchronized first-person / third-person / reference triplets from a synthetic 3D world',
    load: async () => (await import('./commands/synth.js')).synth,
  },
  {
    name: 'forward',
    summary: 'run one forward of a model part on tensors from a safetensors file (parity checks against Python)',
    load: async () => (await import('./commands/forward.js')).forward,
  },
  {
    name: 'encode-prompts',
    summary: "pre-compute umT5 prompt embeddings into the prompt cache (the task prompts and '' by default)",
    load: async () => (await import('./commands/encode_prompts.js')).encodePromptsCommand,
  },
  {
    name: 'doctor',
    summary: 'report the tensor engine: libtorch version, devices, threads, BLAS, bf16, attention kernel',
    load: async () => (await import('./commands/doctor.js')).doctor,
  },
];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `usage: worldwander <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\n'worldwander <command> --help' shows a command's flags.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(help());
    return name === undefined ? 2 : 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    console.error(`worldwander: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  let command: Command;
  try {
    command = await entry.load();
  } catch (error) {
    // e.g. the libtorch addon is not built: the message says what to run
    console.error(`worldwander ${name}: ${(error as Error).message}`);
    return 1;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: ${command.usage}\n\n${entry.summary}`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`worldwander ${name}: ${error.message}`);
      return 2;
    }
    throw error;
  }
}
