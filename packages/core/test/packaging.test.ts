/**
 * What each package publishes. Its `exports` (and `bin`) point to files its build produces and
 * its `@featurestore/source` conditions to sources that exist; each entry exports exactly the
 * names recorded in `public-surface.ts`, so a new public name is a deliberate change to that
 * list. The build is not run: the TypeScript compiler says which file each source compiles to
 * (its tsconfig's rootDir and outDir), which is what `npm run build` writes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PUBLIC_SURFACE } from './public-surface.js';

const packagesDir = fileURLToPath(new URL('../../', import.meta.url));

/** The condition under which each entry names its TypeScript source (tests, tools). */
const SOURCE_CONDITION = '@featurestore/source';

interface Manifest {
  name: string;
  exports?: Record<string, Record<string, string> | string>;
  types?: string;
  bin?: Record<string, string> | string;
  files?: string[];
}

interface Package {
  dir: string;
  manifest: Manifest;
}

const packages: Package[] = readdirSync(packagesDir, { withFileTypes: true })
  .filter(
    (entry) => entry.isDirectory() && existsSync(join(packagesDir, entry.name, 'package.json')),
  )
  .map((entry) => {
    const dir = join(packagesDir, entry.name);
    return { dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) };
  });

/** `@featurestore/core` for `.`, `@featurestore/core/driver` for `./driver`. */
function specifierOf(manifest: Manifest, subpath: string): string {
  return subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
}

/** Each file the package's build writes, mapped to the source it is compiled from. */
function buildOutputs(dir: string): Map<string, string> {
  const config = ts.getParsedCommandLineOfConfigFile(join(dir, 'tsconfig.json'), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  });
  if (!config) throw new Error(`${dir}/tsconfig.json cannot be read`);
  const outputs = new Map<string, string>();
  for (const source of config.fileNames) {
    for (const output of ts.getOutputFileNames(config, source, false)) {
      outputs.set(resolve(output), resolve(source));
    }
  }
  return outputs;
}

/**
 * The names a source module exports, read from its syntax: declarations marked `export`,
 * `export { … }` lists, and the modules it re-exports whole (`export * from './x.js'`) followed
 * to their files. Types and values alike; which are values the module itself says at run time.
 */
function declaredExports(file: string): Set<string> {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const names = new Set<string>();
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      const clause = statement.exportClause;
      if (clause && ts.isNamedExports(clause)) {
        for (const element of clause.elements) names.add(element.name.text);
      } else if (clause) {
        names.add(clause.name.text);
      } else {
        const specifier = (statement.moduleSpecifier as ts.StringLiteral).text;
        if (!specifier.startsWith('.')) {
          throw new Error(`${file}: export * from a package (${specifier}) cannot be followed`);
        }
        const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
        for (const name of declaredExports(target)) if (name !== 'default') names.add(name);
      }
    } else if (ts.isExportAssignment(statement)) {
      names.add('default');
    } else if (ts.canHaveModifiers(statement)) {
      const modifiers = ts.getModifiers(statement) ?? [];
      if (!modifiers.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword)) continue;
      if (modifiers.some((modifier) => modifier.kind === ts.SyntaxKind.DefaultKeyword)) {
        names.add('default');
      } else if (ts.isVariableStatement(statement)) {
        for (const declaration of statement.declarationList.declarations) {
          names.add((declaration.name as ts.Identifier).text);
        }
      } else {
        const name = (statement as ts.DeclarationStatement).name;
        if (name && ts.isIdentifier(name)) names.add(name.text);
      }
    }
  }
  return names;
}

/** The entry's exports, split as `public-surface.ts` records them. */
async function surfaceOf(source: string): Promise<{ values: string[]; types: string[] }> {
  const module: Record<string, unknown> = await import(pathToFileURL(source).href);
  const values = Object.keys(module).sort();
  const types = [...declaredExports(source)].filter((name) => !values.includes(name)).sort();
  return { values, types };
}

function entriesOf(manifest: Manifest): [string, Record<string, string>][] {
  return Object.entries(manifest.exports ?? {}).map(([subpath, target]) => [
    subpath,
    typeof target === 'string' ? { default: target } : target,
  ]);
}

/**
 * The entries with each subpath pattern (`./*`, generated code) expanded to one entry per source
 * file it matches, so every file behind a pattern is checked like a named entry.
 */
function concreteEntriesOf(dir: string, manifest: Manifest): [string, Record<string, string>][] {
  return entriesOf(manifest).flatMap(([subpath, conditions]) => {
    if (!subpath.includes('*')) return [[subpath, conditions]];
    const [prefix, suffix] = conditions[SOURCE_CONDITION]!.split('*') as [string, string];
    const base = resolve(dir, prefix);
    return readdirSync(base, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith(suffix))
      .map((file) => {
        const stem = file.slice(0, -suffix.length).split(sep).join('/');
        const concrete = Object.fromEntries(
          Object.entries(conditions).map(([condition, target]) => [
            condition,
            target.replace('*', stem),
          ]),
        );
        return [subpath.replace('*', stem), concrete] as [string, Record<string, string>];
      });
  });
}

describe('packaging', () => {
  it('every entry of every package has a recorded surface, and every recorded one an entry', () => {
    const specifiers = packages.flatMap(({ manifest }) =>
      entriesOf(manifest).map(([subpath]) => specifierOf(manifest, subpath)),
    );
    expect(specifiers.sort()).toEqual(Object.keys(PUBLIC_SURFACE).sort());
  });

  describe.each(packages.map((pkg) => [pkg.manifest.name, pkg] as const))('%s', (_name, pkg) => {
    const { dir, manifest } = pkg;
    // npm publishes only what "files" names (folders or files).
    const published = (path: string) =>
      (manifest.files ?? []).some((entry) => {
        const included = resolve(dir, entry);
        return path === included || path.startsWith(`${included}${sep}`);
      });

    it('each exports entry: a source that exists, and the JavaScript and types built from it', () => {
      const outputs = buildOutputs(dir);
      const entries = concreteEntriesOf(dir, manifest);
      expect(entries.length, `${manifest.name} has no exports`).toBeGreaterThan(0);
      for (const [subpath, conditions] of entries) {
        const where = `${manifest.name} exports[${JSON.stringify(subpath)}]`;
        // Node and TypeScript take the first condition that matches: default must come last.
        expect(Object.keys(conditions), `${where}: conditions and their order`).toEqual([
          SOURCE_CONDITION,
          'types',
          'default',
        ]);
        const source = resolve(dir, conditions[SOURCE_CONDITION]!);
        expect(existsSync(source), `${where}: ${SOURCE_CONDITION} ${source} exists`).toBe(true);
        for (const [condition, extension] of [
          ['types', '.d.ts'],
          ['default', '.js'],
        ] as const) {
          const target = resolve(dir, conditions[condition]!);
          expect(target.endsWith(extension), `${where}.${condition} ends in ${extension}`).toBe(
            true,
          );
          expect(outputs.get(target), `${where}.${condition}: the build writes ${target}`).toBe(
            source,
          );
          expect(published(target), `${where}.${condition} is in "files"`).toBe(true);
        }
        expect(published(source), `${where}.${SOURCE_CONDITION} is in "files"`).toBe(true);
      }
      const main = entries.find(([subpath]) => subpath === '.')?.[1];
      expect(manifest.types, `${manifest.name} "types" is the "." entry's`).toBe(main?.types);
      const bins =
        typeof manifest.bin === 'string' ? [manifest.bin] : Object.values(manifest.bin ?? {});
      for (const bin of bins) {
        // A committed launcher (linked by `npm install` before any build) that imports the built
        // entry, or the built entry itself.
        const launcher = resolve(dir, bin);
        const imported = /new URL\('([^']+)', import\.meta\.url\)/.exec(
          existsSync(launcher) ? readFileSync(launcher, 'utf8') : '',
        )?.[1];
        const target =
          outputs.has(launcher) || !imported ? launcher : resolve(dirname(launcher), imported);
        expect(outputs.has(target), `${manifest.name} bin: the build writes ${target}`).toBe(true);
        expect(published(launcher), `${manifest.name} bin ${bin} is in "files"`).toBe(true);
        expect(published(target), `${manifest.name} bin's ${target} is in "files"`).toBe(true);
      }
    });

    // A pattern's modules are generated from proto/: their names are the proto files' (checked by
    // protocol/test/generated-code.test.ts), not a list kept here.
    const named = entriesOf(manifest).filter(([subpath]) => !subpath.includes('*'));
    describe.each(named.map(([subpath, conditions]) => [subpath, conditions]))(
      'entry %s',
      (subpath, conditions) => {
        const specifier = specifierOf(manifest, subpath);
        it('exports exactly the recorded names (a new public name is a change to the list)', async () => {
          const surface = await surfaceOf(resolve(dir, conditions[SOURCE_CONDITION]!));
          expect(
            surface,
            `${specifier}: update test/public-surface.ts in core if the change is deliberate`,
          ).toEqual(PUBLIC_SURFACE[specifier]);
        }, 60_000);
      },
    );
  });

  it('@featurestore/core/driver exports every name of every port', () => {
    const core = packages.find(({ manifest }) => manifest.name === '@featurestore/core')!;
    const driver = declaredExports(join(core.dir, 'src/driver.ts'));
    const portsDir = join(core.dir, 'src/ports');
    for (const file of readdirSync(portsDir)) {
      const missing = [...declaredExports(join(portsDir, file))].filter(
        (name) => !driver.has(name),
      );
      expect(missing, `ports/${file}: names src/driver.ts does not export`).toEqual([]);
    }
  });
});
