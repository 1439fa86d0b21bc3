import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../src/version.js';

/**
 * The Containerfile and scripts/image. Building the image takes minutes (a Debian root file
 * system, every dependency), so `npm run image` and `scripts/image smoke` stay out of
 * `npm test`; this checks what the image promises, and, where an image was built on this
 * machine, runs its CLI in its root filesystem.
 */
const root = fileURLToPath(new URL('../../..', import.meta.url));
const run = promisify(execFile);

async function builtImage(): Promise<boolean> {
  try {
    await run('buildah', ['inspect', '--type', 'image', `localhost/featurestore:${VERSION}`]);
    return true;
  } catch {
    return false;
  }
}

/** Both stages start from the Node image given as build argument. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: the Containerfile's own ${…} syntax
const FINAL_STAGE = 'FROM ${NODE_IMAGE}';

/** Whether `npm run image` built this version's image on this machine. */
const imageBuilt = await builtImage();

/** The instructions of a Containerfile, continuation lines joined. */
function instructions(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

describe('Containerfile', () => {
  it('two stages; the final one runs as a non-root user, featurestore serve, with labels and a gRPC health check', async () => {
    const lines = instructions(await readFile(join(root, 'Containerfile'), 'utf8'));
    const stages = lines.filter((line) => line.startsWith('FROM '));
    expect(stages).toEqual([`${FINAL_STAGE} AS build`, FINAL_STAGE]);
    expect(lines).toContain('ARG NODE_IMAGE=docker.io/library/node:24-bookworm-slim');
    const final = lines.slice(lines.indexOf(FINAL_STAGE));
    expect(final).toContain('USER 10001:10001');
    expect(final).toContain('ENTRYPOINT ["featurestore"]');
    expect(final).toContain('CMD ["serve"]');
    const healthCheck = final.find((line) => line.startsWith('HEALTHCHECK'));
    expect(healthCheck).toMatch(
      /CMD \["featurestore", "health", "--address", "127\.0\.0\.1:50051"\]/,
    );
    const labels = final.find((line) => line.startsWith('LABEL')) ?? '';
    for (const label of ['title', 'version', 'revision', 'created', 'licenses', 'source']) {
      expect(labels).toContain(`org.opencontainers.image.${label}=`);
    }
    // Only the compiled packages and the production dependencies reach the final stage.
    const build = lines.slice(0, lines.indexOf(FINAL_STAGE)).join('\n');
    expect(build).toMatch(/npm prune --omit=dev/);
    expect(build).toMatch(/rm -rf packages\/\*\/src packages\/\*\/test/);
    expect(final.filter((line) => line.startsWith('COPY'))).toEqual([
      'COPY --from=build /build/package.json ./',
      'COPY --from=build /build/node_modules/ node_modules/',
      'COPY --from=build /build/packages/ packages/',
    ]);
  });

  it('the health check command exists in the CLI with the options the image and the chart use', async () => {
    const { runCli } = await import('../src/index.js');
    let help = '';
    const code = await runCli(['health', '--help'], {
      stdout: (text) => {
        help += text;
      },
      stderr: (text) => {
        help += text;
      },
    });
    expect(code).toBe(0);
    for (const option of ['--address', '--service', '--ca', '--cert', '--key', '--server-name']) {
      expect(help).toContain(option);
    }
  });

  it('scripts/image is valid bash and npm run image runs it', async () => {
    await run('bash', ['-n', join(root, 'scripts/image')]);
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
    expect(manifest.scripts.image).toBe('scripts/image build');
  });

  it.skipIf(!imageBuilt)(
    'the built image: featurestore --version runs in its root filesystem (chroot, as uid 10001)',
    async () => {
      const { stdout: container } = await run('buildah', [
        'from',
        `localhost/featurestore:${VERSION}`,
      ]);
      const name = container.trim();
      try {
        const { stdout: mount } = await run('buildah', ['mount', name]);
        const { stdout } = await run('chroot', [
          '--userspec=10001:10001',
          mount.trim(),
          '/usr/local/bin/featurestore',
          '--version',
        ]);
        expect(stdout.trim()).toBe(VERSION);
      } finally {
        await run('buildah', ['rm', name]);
      }
    },
  );
});
