import { UsageError, type Command } from './command.js';
import { doctor } from './commands/doctor.js';
import { encodePromptsCommand } from './commands/encode_prompts.js';
import { forward } from './commands/forward.js';
import { synth } from './commands/synth.js';

/** Every subcommand, in the order `worldwander help` lists them. */
const commands: Command[] = [doctor, synth, forward, encodePromptsCommand];

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
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`worldwander: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: ${command.usage}\n\n${command.summary}`);
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
