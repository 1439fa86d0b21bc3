/**
 * Blanking secrets out of connection URLs and of text that holds them, for everything the
 * store shows or logs (its configuration, error messages, worker logs). Secrets live in two
 * places of a URL: the password of the userinfo (`redis://:PASSWORD@host`, with or without a
 * user name) and query parameters (`postgres://…?password=…`, `sslpassword`, SAS `sig`, …).
 *
 * The URL is split into its parts by hand rather than with `new URL`: multi-host URLs
 * (`kafka://b1:9092,b2:9092`, `redis-cluster://…`, libpq's `host1,host2`) do not parse there,
 * and everything but the secrets must stay exactly as written.
 */

/** What replaces a secret. */
export const REDACTED = '***';

// Parameter names are compared in lower case without `-`, `_` and `.`.
const SECRET_WORDS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'signature',
  'credential',
  'apikey',
  'accesskey',
  'accountkey',
  'sharedkey',
  'privatekey',
  'sastoken',
];
const SECRET_NAMES = new Set(['pass', 'pwd', 'sig', 'sas', 'key', 'auth', 'authorization']);

/** Whether a query parameter or `key=value` name holds a secret (`sslpassword`, `sig`, …). */
export function isSecretName(name: string): boolean {
  const normalized = name.toLowerCase().replace(/[-_.]/g, '');
  return SECRET_NAMES.has(normalized) || SECRET_WORDS.some((word) => normalized.includes(word));
}

// scheme://authority[/path][?query][#fragment], the authority ending at the first / ? or #.
const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/is;
// A URL inside text: up to white space or a character that quotes or ends it (a backslash
// too, which escapes a quote inside a JSON log line).
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s"'`<>\\]+/gi;
// `name=value` outside URLs (libpq keyword strings, `a=1&b=2` lists): value up to a separator.
const PAIR_IN_TEXT = /(^|[\s?&;,(])([a-z][a-z0-9_.-]*)=([^\s&;,)"'`\\]*)/gi;

function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const at = pair.indexOf('=');
      if (at < 0) return pair;
      return isSecretName(decodeSafely(pair.slice(0, at)))
        ? `${pair.slice(0, at)}=${REDACTED}`
        : pair;
    })
    .join('&');
}

function decodeSafely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function redactOneUrl(url: string): string {
  const parts = URL_PARTS.exec(url);
  if (!parts) return url;
  const [, scheme, authority, path, query, fragment] = parts;
  // The userinfo ends at the last `@`: an unencoded `@` in a password stays hidden.
  const at = authority!.lastIndexOf('@');
  let shownAuthority = authority!;
  if (at >= 0) {
    const userinfo = authority!.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) {
      shownAuthority = `${userinfo.slice(0, colon)}:${REDACTED}${authority!.slice(at)}`;
    }
  }
  return `${scheme}${shownAuthority}${path}${query === undefined ? '' : `?${redactQuery(query.slice(1))}`}${fragment ?? ''}`;
}

/**
 * `value` without its secrets: a URL's userinfo password and its password-like query
 * parameters are replaced by `***`; in text that is not one URL, every URL in it is, and
 * so is every `name=value` pair with a password-like name (`host=db password=x`). Anything
 * else is returned unchanged.
 *
 * @example
 * redactSecrets('redis://:s3cret@cache:6379/0'); // 'redis://:***@cache:6379/0'
 * redactSecrets('postgres://db/fs?sslmode=require&password=x'); // '…&password=***'
 */
export function redactSecrets(value: string): string {
  const urlsRedacted = value.replace(URL_IN_TEXT, (match) => {
    // Punctuation that ends a sentence or a list is not part of the URL.
    const url = match.replace(/[,.;:)\]]+$/, '');
    return `${redactOneUrl(url)}${match.slice(url.length)}`;
  });
  return urlsRedacted.replace(PAIR_IN_TEXT, (pair, before: string, name: string, secret: string) =>
    isSecretName(name) && secret !== REDACTED && secret !== ''
      ? `${before}${name}=${REDACTED}`
      : pair,
  );
}
