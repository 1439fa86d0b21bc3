import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * The 1-based line of the first non-blank line of a JSON-lines file that is not valid JSON.
 * DuckDB's own report counts records, not lines (and, in 1.5, one too many), so after DuckDB
 * has found a file malformed this pinpoints the line users see in their editor. Streams the
 * file; only runs on the error path.
 */
export async function firstInvalidJsonLine(path: string): Promise<number | undefined> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let number = 0;
  try {
    for await (const line of lines) {
      number++;
      if (line.trim() === '') continue;
      try {
        JSON.parse(line);
      } catch {
        return number;
      }
    }
    return undefined;
  } finally {
    lines.close();
  }
}
