/**
 * A user of the repository has only the repository: no file may send readers to a design
 * document outside it. The project's own design and concepts are in docs/architecture.md and
 * docs/concepts.md. Every file git knows about (tracked, or new and not ignored) is read.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Spelled in pieces so that this file does not contain what it looks for. The file name is
 * matched case-sensitively: docs/architecture.md is the project's own.
 */
const OUTSIDE_REFERENCES = [`..${'/'}shared`, `ARCHITECTURE${'.'}md`];

function repositoryFiles(): string[] {
  const output = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    { cwd: repositoryRoot, maxBuffer: 64 * 1024 * 1024 },
  );
  return [...new Set(output.toString('utf8').split('\0').filter(Boolean))];
}

function readIfPresent(path: string): Buffer | undefined {
  try {
    return readFileSync(join(repositoryRoot, path));
  } catch {
    return undefined; // deleted in the working tree but not yet in the index
  }
}

describe('the repository is self-contained', () => {
  it('lists the files git knows about', () => {
    const files = repositoryFiles();
    expect(files).toContain('README.md');
    expect(files).toContain('docs/architecture.md');
    expect(files).toContain('docs/concepts.md');
  });

  it('no file refers to a design document outside the repository', () => {
    const offenders: string[] = [];
    for (const path of repositoryFiles()) {
      const content = readIfPresent(path);
      if (content === undefined) continue;
      const text = content.toString('latin1');
      text.split('\n').forEach((line, index) => {
        for (const reference of OUTSIDE_REFERENCES) {
          if (line.includes(reference)) offenders.push(`${path}:${index + 1}: ${line.trim()}`);
        }
      });
    }
    expect(offenders, 'point these to docs/architecture.md or docs/concepts.md').toEqual([]);
  });

  it('the README links the documents that replace it', () => {
    const readme = readFileSync(join(repositoryRoot, 'README.md'), 'utf8');
    expect(readme).toContain('docs/architecture.md');
    expect(readme).toContain('docs/concepts.md');
  });
});
