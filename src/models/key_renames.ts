// A weight layout's key table, readable both ways: pairs of templates (another layout's name, ours)
// where `{x}` stands for one dotted segment and is carried across, e.g.
// ['blocks.{n}.self_attn.q.{p}', 'blocks.{n}.attn1.to_q.{p}']. A placeholder only one side has is
// filled, going to that side, by `fill` (the original VAE's resampler index).
export type KeyPair = readonly [theirs: string, ours: string];

interface Compiled {
  regex: RegExp;
  names: string[];
  template: string;
}

function compile(template: string): Compiled {
  const names: string[] = [];
  const pattern = template
    .split(/(\{\w+\})/)
    .map((part) => {
      const m = /^\{(\w+)\}$/.exec(part);
      if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]!);
      return '([^.]+)';
    })
    .join('');
  return { regex: new RegExp(`^${pattern}$`), names, template };
}

export class KeyRenames {
  readonly #pairs: { theirs: Compiled; ours: Compiled }[];

  constructor(pairs: readonly KeyPair[]) {
    this.#pairs = pairs.map(([theirs, ours]) => ({ theirs: compile(theirs), ours: compile(ours) }));
  }

  /** Our name of one of their keys, or undefined when no pair matches. */
  toOurs(key: string): string | undefined {
    return this.#rename(key, 'theirs', 'ours');
  }

  /** Their name of one of our keys; `fill` gives a placeholder our name does not carry. */
  toTheirs(
    key: string,
    fill?: (name: string, values: Record<string, string>) => string | undefined,
  ): string | undefined {
    return this.#rename(key, 'ours', 'theirs', fill);
  }

  #rename(
    key: string,
    from: 'theirs' | 'ours',
    to: 'theirs' | 'ours',
    fill?: (name: string, values: Record<string, string>) => string | undefined,
  ): string | undefined {
    for (const pair of this.#pairs) {
      const m = pair[from].regex.exec(key);
      if (!m) continue;
      const values: Record<string, string> = Object.fromEntries(pair[from].names.map((n, i) => [n, m[i + 1]!]));
      let missing = false;
      const out = pair[to].template.replace(/\{(\w+)\}/g, (_, name: string) => {
        const value = values[name] ?? fill?.(name, values);
        if (value === undefined) missing = true;
        return value ?? '';
      });
      if (!missing) return out;
    }
    return undefined;
  }
}
