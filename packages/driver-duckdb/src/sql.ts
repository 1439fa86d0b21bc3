/** A SQL string literal: file paths, names and values never reach DuckDB unescaped. */
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A quoted SQL identifier, for column names that come from files or schemas. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `[ 'a', 'b' ]` for table functions that take a list of files. */
export function literalList(values: readonly string[]): string {
  return `[${values.map(literal).join(', ')}]`;
}
