// The `worldwander` command: parses with commander, runs the subcommand, and turns every error
// into one clean message and an exit code (2: the command line is wrong; 1: the run failed).
// A stack trace is printed only with --debug or WORLDWANDER_DEBUG=1.
import { Command, CommanderError } from 'commander';

import { OptionError, Stopped, WorldWanderError, isTorchError } from '../errors.js';
import { UsageError, type Register } from './command.js';
import { register as cacheLatents } from './commands/cache_latents.js';
import { register as convert } from './commands/convert.js';
import { register as convertCkpt } from './commands/convert_ckpt.js';
import { register as demo } from './commands/demo.js';
import { register as doctor } from './commands/doctor.js';
import { register as download } from './commands/download.js';
import { register as encodePrompts } from './commands/encode_prompts.js';
import { register as evalCommand } from './commands/eval.js';
import { register as forward } from './commands/forward.js';
import { register as infer } from './commands/infer.js';
import { register as serve } from './commands/serve.js';
import { register as synth } from './commands/synth.js';
import { register as train } from './commands/train.js';
import { register as trainVae } from './commands/train_vae.js';
import { register as trainPerception } from './commands/train_perception.js';

/** Every subcommand, in the order `worldwander --help` lists them. */
const COMMANDS: Register[] = [
  demo,
  serve,
  infer,
  train,
  trainVae,
  trainPerception,
  cacheLatents,
  evalCommand,
  convert,
  convertCkpt,
  synth,
  forward,
  encodePrompts,
  download,
  doctor,
];

export function buildProgram(): Command {
  const program = new Command('worldwander')
    .description('Translate videos between the first-person and the third-person view (WorldWander on libtorch).')
    .option('--debug', 'print the stack trace of an error (also WORLDWANDER_DEBUG=1)')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    // errors through console.error, like every other message of the CLI
    .configureOutput({
      writeErr: (text) => console.error(text.trimEnd()),
      outputError: (text) => console.error(text.trimEnd()),
    });
  for (const add of COMMANDS) add(program);
  for (const command of program.commands) command.exitOverride().showHelpAfterError('(add --help for usage)');
  return program;
}

/** API option names that a command's flag carries under another name. */
const FLAG_FOR_OPTION: Record<string, string> = { numFrames: 'frames' };

/** An option's value shown as what the user typed: the command's flag, or its <argument>. */
function flagOf(command: Command | undefined, name: string): string {
  const attribute = FLAG_FOR_OPTION[name] ?? name;
  const option = command?.options.find((o) => o.attributeName() === attribute);
  if (option?.long) return option.long;
  if (command?.registeredArguments.some((a) => a.name() === attribute)) return `<${attribute}>`;
  return `--${attribute.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Errors whose message is the whole story: the user can act on it. */
function isExpected(error: unknown): error is Error {
  return (
    error instanceof WorldWanderError ||
    isTorchError(error) ||
    (error instanceof Error && 'code' in error && typeof error.code === 'string' && /^E[A-Z]+$/.test(error.code))
  );
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug') || process.env.WORLDWANDER_DEBUG === '1';
  const program = buildProgram();
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed its message; help and version are not errors
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2;
    }
    const command = argv.find((a) => !a.startsWith('-')) ?? '';
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof Stopped) {
      console.error(
        `worldwander ${command}: stopped (${message}); what was finished is kept, nothing half-written is left`,
      );
      return 130;
    }
    if (error instanceof UsageError) {
      console.error(`worldwander ${command}: ${message}`);
      return 2;
    }
    if (error instanceof OptionError) {
      const sub = program.commands.find((c) => c.name() === command);
      console.error(
        `worldwander ${command}: ${OptionError.render(error.option, error.detail, (name) => flagOf(sub, name))}`,
      );
      return 2;
    }
    if (isExpected(error)) console.error(`worldwander ${command}: ${message}`);
    else
      console.error(
        `worldwander ${command}: unexpected error: ${message}${debug ? '' : '\n(this looks like a bug; rerun with --debug for the stack trace)'}`,
      );
    if (debug && error instanceof Error) console.error(error.stack);
    return 1;
  }
}
