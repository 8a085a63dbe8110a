import { FileFormatError } from '../errors.js';
import { readFileSync } from 'node:fs';

/** A JSON file's content; the error names the file and what it was meant to hold. */
export function readJsonFile(file: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new FileFormatError(`${file}: cannot read the ${what}: ${(error as Error).message}`);
  }
}
