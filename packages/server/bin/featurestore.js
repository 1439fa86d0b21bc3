#!/usr/bin/env node
// The `featurestore` command. It is a committed file, not a build output, so that npm links it
// when `npm install` runs in a clone, before anything is built (npm links a workspace's bin only
// if its target exists then); it runs the built CLI and says what to do when there is none.
const main = new URL('../dist/cli/main.js', import.meta.url);
try {
  await import(main.href);
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes(main.pathname)) {
    throw error;
  }
  process.stderr.write(
    'featurestore: the CLI is not built yet: run `npm run build` in the repository, then try again\n',
  );
  process.exitCode = 1;
}
