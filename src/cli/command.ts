/** One subcommand of the `worldwander` CLI: a thin layer over the typed API. */
export interface Command {
  usage: string;
  /** Returns the process exit code. */
  run(args: string[]): Promise<number>;
}

/** A user-facing error: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}
