// JSON as the project writes it to files: one value per line (JSONL logs) or indented, always
// ending in a newline.

/** `value` as JSON followed by a newline; `indent` spaces per level (none: one line, for JSONL). */
export function jsonText(value: unknown, indent?: number): string {
  return `${JSON.stringify(value, null, indent)}\n`;
}
