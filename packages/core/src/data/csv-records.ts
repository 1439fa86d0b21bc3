import { StringDecoder } from 'node:string_decoder';

/**
 * The records of a CSV file as the compute engine writes outputs (RFC 4180: `,` between
 * fields, `"` around fields that need it, `""` for a quote inside one, line breaks inside
 * quoted fields), read as bytes arrive. An empty field without quotes is NULL (`null`); a
 * quoted empty field is the empty string.
 */
export async function* csvRecords(
  bytes: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<(string | null)[]> {
  const decoder = new StringDecoder('utf8');
  let record: (string | null)[] = [];
  let field = '';
  let quoted = false;
  /** Inside quotes; `quoteSeen`: the last character was a quote inside quotes. */
  let inQuotes = false;
  let quoteSeen = false;
  let started = false;
  const endField = () => {
    record.push(quoted || field !== '' ? field : null);
    field = '';
    quoted = false;
  };
  const feed = function* (text: string): Generator<(string | null)[]> {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inQuotes) {
        if (quoteSeen) {
          quoteSeen = false;
          if (c === 0x22) {
            // `""` inside quotes: one quote.
            field += '"';
            start = i + 1;
            continue;
          }
          inQuotes = false;
          // Falls through to the unquoted handling of this character.
        } else if (c === 0x22) {
          field += text.slice(start, i);
          quoteSeen = true;
          continue;
        } else {
          continue;
        }
      }
      started = true;
      if (c === 0x22 && field === '' && !quoted) {
        inQuotes = true;
        quoted = true;
        start = i + 1;
      } else if (c === 0x2c) {
        endField();
        start = i + 1;
      } else if (c === 0x0a || c === 0x0d) {
        if (c === 0x0d && text.charCodeAt(i + 1) === 0x0a) i++;
        endField();
        yield record;
        record = [];
        started = false;
        start = i + 1;
      } else {
        field += text[i];
        start = i + 1;
      }
    }
    if (inQuotes && !quoteSeen) field += text.slice(start);
  };
  for await (const chunk of bytes) {
    yield* feed(typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer));
  }
  yield* feed(decoder.end());
  if (quoteSeen) inQuotes = false;
  if (started || record.length > 0 || quoted) {
    endField();
    yield record;
  }
}
