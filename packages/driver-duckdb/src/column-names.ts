/*
 * Column names in messages. A file that is not what it claims to be (a password file, a
 * binary) has a "header" that is really its content; messages, which end up in job records
 * and logs, show only names that look like names, each at most 64 characters, and at most 20
 * of them.
 */

const NAME_LIKE = /^[\p{L}_][\p{L}\p{N}_ .-]{0,63}$/u;
const MAX_SHOWN = 20;

/** `"name"` when the name looks like a column name, else a description without its text. */
export function shownName(name: string): string {
  return NAME_LIKE.test(name) ? `"${name}"` : `(a name of ${name.length} characters, not shown)`;
}

/** `"a", "b"` for messages, names that do not look like names counted instead of shown. */
export function columnList(columns: readonly { name: string }[]): string {
  if (columns.length === 0) return '(none)';
  const shown = columns
    .filter((column) => NAME_LIKE.test(column.name))
    .slice(0, MAX_SHOWN)
    .map((column) => `"${column.name}"`);
  const others = columns.length - shown.length;
  if (others === 0) return shown.join(', ');
  const rest = `${others} other column${others === 1 ? '' : 's'}`;
  return shown.length === 0 ? `${rest} (names not shown)` : `${shown.join(', ')} and ${rest}`;
}
