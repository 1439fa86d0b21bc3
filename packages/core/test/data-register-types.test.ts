import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The in-process API's types: `featureSets.register` takes a typed `FeatureSetDefinition` (a
// typo in a definition written in code fails to compile; JSON goes through
// `parseFeatureSetDefinition`), and `offline.ingest` takes rows of any object type. The
// fixtures' `@ts-expect-error` lines say where errors must be; the compiler reports any that
// is not.

const baseConfig = fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url));

/** The compiler's complaints about one fixture (the sources it imports are the build's). */
function problemsOf(name: string): string[] {
  const fixture = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  const { config } = ts.readConfigFile(baseConfig, ts.sys.readFile);
  const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, '.');
  const program = ts.createProgram([fixture], {
    ...options,
    noEmit: true,
    composite: false,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
  });
  // The fixture's own diagnostics: the sources it imports are type-checked by the build.
  const source = program.getSourceFile(fixture)!;
  return [
    ...program.getSyntacticDiagnostics(source),
    ...program.getSemanticDiagnostics(source),
  ].map(
    (diagnostic) =>
      `${diagnostic.file?.fileName ?? ''}:${
        diagnostic.file && diagnostic.start !== undefined
          ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1
          : ''
      } ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`,
  );
}

describe('types of the in-process API', () => {
  it('register refuses a misspelt or untyped definition, and takes a parsed one', () => {
    expect(problemsOf('register-definition-types.ts')).toEqual([]);
  }, 60_000);

  it('ingest takes rows of any object type, Arrow, bytes with a format; results read typed', () => {
    expect(problemsOf('ingest-data-types.ts')).toEqual([]);
  }, 60_000);
});
