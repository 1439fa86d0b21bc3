import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// `featureSets.register` takes a typed `FeatureSetDefinition`: a typo in a definition written
// in code fails to compile, and JSON goes through `parseFeatureSetDefinition`. The fixture's
// `@ts-expect-error` lines say where errors must be; the compiler reports any that is not.

const fixture = fileURLToPath(new URL('./fixtures/register-definition-types.ts', import.meta.url));
const baseConfig = fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url));

describe('featureSets.register types', () => {
  it('refuses a misspelt or untyped definition at compile time, and takes a parsed one', () => {
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
    const problems = [
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
    expect(problems).toEqual([]);
  }, 60_000);
});
