import { UsageError } from './command.js';

export type Flags = Record<string, string | boolean>;

/**
 * Parses `--key value`, `--key=value` and bare `--switch` flags. `booleans` names the switches
 * that take no value; `optional` names flags that may stand alone (true) or take a value (when the
 * next argument is not a flag); every other flag must have one. Unknown flags are an error.
 */
export function parseFlags(args: string[], known: { values: string[]; booleans: string[]; optional?: string[] }): { flags: Flags; positional: string[] } {
  const optional = known.optional ?? [];
  const flags: Flags = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) { positional.push(arg); continue; }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (known.booleans.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value (got '${arg}')`);
      flags[name] = true;
    } else if (optional.includes(name)) {
      const next = args[i + 1];
      if (eq >= 0) flags[name] = arg.slice(eq + 1);
      else if (next !== undefined && !next.startsWith('--')) flags[name] = args[++i]!;
      else flags[name] = true;
    } else if (known.values.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags[name] = value;
    } else {
      const all = [...known.values, ...optional, ...known.booleans].map((k) => `--${k}`).join(', ');
      throw new UsageError(`unknown flag --${name}; known flags: ${all || 'none'}`);
    }
  }
  return { flags, positional };
}

export function intFlag(flags: Flags, name: string, fallback: number, min = -Infinity): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(value) || value < min) {
    throw new UsageError(`--${name} must be an integer >= ${min} (got '${String(raw)}')`);
  }
  return value;
}

export function stringFlag(flags: Flags, name: string): string | undefined {
  const raw = flags[name];
  return typeof raw === 'string' ? raw : undefined;
}

export function requiredFlag(flags: Flags, name: string): string {
  const value = stringFlag(flags, name);
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
}

/** A flag whose value must be one of `choices`. */
export function choiceFlag<T extends string>(flags: Flags, name: string, choices: readonly T[], fallback: T): T {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !(choices as readonly string[]).includes(raw)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')} (got '${String(raw)}')`);
  }
  return raw as T;
}
