// No answer of the app names a path of the server's: messages that reach the page (a failed job,
// a note in run.json) have the paths they name replaced by what the user knows them as (the name
// of their upload, "the model folder"), and any other absolute path by its last component.
const ABSOLUTE_PATH = /(?<![\w.~:/])\/(?:[^\s'"`,;:()<>[\]{}]+\/)*[^\s'"`,;:()<>[\]{}]*/g;

/** `text` with each of `known`'s paths (longest first) replaced by its shown name, then every other absolute path by its base name. */
export function redactPaths(text: string, known: ReadonlyMap<string, string> = new Map()): string {
  let out = text;
  for (const [p, shown] of [...known].sort((a, b) => b[0].length - a[0].length)) out = out.split(p).join(shown);
  return out.replace(ABSOLUTE_PATH, (p) => {
    const parts = p.split('/').filter(Boolean);
    return parts.at(-1) ?? p;
  });
}
