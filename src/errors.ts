// Expected failures: something the user gave (a file, a key, a value, a shape) is not what the
// program needs. The CLI prints their message alone (no stack trace) and exits 1; anything else
// is a bug and says so.

/** The base of every expected failure; its message names the file, key or value and what was expected. */
export class WorldWanderError extends Error {
  override name = 'WorldWanderError';
}

/** The run stopped because it was asked to (Ctrl-C, an AbortSignal): the CLI exits 130, as a shell reports SIGINT. */
export class Stopped extends WorldWanderError {
  override name = 'Stopped';
}

/** A model was called with inputs it cannot take (shapes, dtypes, counts). */
export class ModelInputError extends WorldWanderError {
  override name = 'ModelInputError';
}

/** A file's content is not what it should be (a config, weights, a dataset, a checkpoint). */
export class FileFormatError extends WorldWanderError {
  override name = 'FileFormatError';
}

/**
 * A value of an option is out of what the run can take. `option` is the option's API name
 * (`count`, `out`, `modelDir`); other options the detail refers to are written `{overwrite}`.
 * The message names them as the API does (`overwrite`); the CLI shows them as flags
 * (`--count`, `--overwrite`) through `render`.
 */
export class OptionError extends WorldWanderError {
  override name = 'OptionError';
  constructor(
    readonly option: string | null,
    readonly detail: string,
  ) {
    super(OptionError.render(option, detail, (name) => name));
  }

  /** The message with option names shown by `show` (the CLI passes one that makes flags). */
  static render(option: string | null, detail: string, show: (name: string) => string): string {
    const text = detail.replace(/\{([A-Za-z]+)\}/g, (_, name: string) => show(name));
    return option ? `${show(option)}: ${text}` : text;
  }
}

/** libtorch raised (c10::Error): the addon names these errors 'TorchError'. */
export function isTorchError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'TorchError';
}
