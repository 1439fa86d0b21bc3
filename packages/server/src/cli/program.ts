import { ValidationError } from '@featurestore/core';
import { Command, CommanderError } from 'commander';
import { configSchema } from '../config.js';
import { VERSION } from '../version.js';
import { registerAccessCommands } from './access-commands.js';
import { registerExportCommand } from './export-command.js';
import { registerFeatureSetCommands } from './featureset-commands.js';
import { registerGcCommand } from './gc-command.js';
import { registerHealthCommand } from './health-command.js';
import { registerImportCommand } from './import-command.js';
import { type CliIo, formatError, formatJsonError, processIo } from './io.js';
import { registerMigrateCommand } from './migrate-command.js';
import { registerOfflineCommands } from './offline-commands.js';
import { registerOnlineCommands } from './online-commands.js';
import { registerProjectCommands } from './project-commands.js';
import { registerQuickstart } from './quickstart.js';
import { registerServeCommand } from './serve-command.js';

/** The `featurestore` command tree (also read by `npm run docs` for docs/cli.md). */
export function buildProgram(io: CliIo, json: boolean): Command {
  const program = new Command('featurestore')
    .description(
      `Featurestore ${VERSION}: define, ingest, version and serve ML features (featurestore --version prints the version)`,
    )
    .option('--store <dir>', 'embedded store folder', process.env.FEATURESTORE_STORE)
    .option(
      '--config <file>',
      `JSON config file (fields: ${Object.keys(configSchema.shape).join(', ')}; docs/configuration.md)`,
    )
    .option('--metadata <url>', 'postgres://… metadata store instead of the embedded PGlite')
    .option(
      '--storage <url>',
      'data root: file://…, s3://bucket/prefix or abfss://fs@account.dfs.core.windows.net/prefix (default <store>/data)',
    )
    .option(
      '--online <url>',
      'redis://…, rediss://… (TLS), redis-cluster://…, rediss-cluster://… or postgres://… online store (default: with the metadata)',
    )
    .option(
      '--queue <url>',
      'kafka://broker1,broker2 or kafkas://… (TLS) (default: a durable local log in the store)',
    )
    .option(
      '--compute <url>',
      'where jobs run: duckdb:// (default, in this process) or spark://MASTER (spark://local[2], spark://host:7077, spark://yarn; docs/spark.md)',
    )
    .option(
      '--plugin <module>',
      'load drivers from a module (a package name or a path; repeatable): their URL schemes then work in every option',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      '--token <secret>',
      'act as the owner of this access token (shown in process listings: prefer --token-file or FEATURESTORE_TOKEN)',
    )
    .option('--token-file <file>', 'act as the owner of the access token on the first line of FILE')
    .option(
      '--endpoint <host:port>',
      'send the command to a featurestore server instead of opening a store (default FEATURESTORE_ENDPOINT)',
      process.env.FEATURESTORE_ENDPOINT || undefined,
    )
    .option('--tls-ca <file>', 'with --endpoint: the CA (PEM) that signed the server certificate')
    .option(
      '--rebind',
      'let an embedded store use other --online, --queue or --storage parts than it was opened with before, from now on',
    )
    .option(
      '--json',
      'machine-readable output; an error is one JSON object {"code","message","details"} on stderr',
    )
    .option('--verbose', 'show stack traces on errors')
    // With --json, usage errors are printed by runCli as JSON, not by commander as text.
    .showHelpAfterError(!json)
    // Set before the commands are added: subcommands inherit them.
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      ...(json ? { outputError: () => {} } : {}),
    });
  registerProjectCommands(program, io);
  registerFeatureSetCommands(program, io);
  registerAccessCommands(program, io);
  registerOfflineCommands(program, io);
  registerOnlineCommands(program, io);
  registerGcCommand(program, io);
  registerQuickstart(program, io);
  registerServeCommand(program, io);
  registerMigrateCommand(program, io);
  registerHealthCommand(program, io);
  registerExportCommand(program, io);
  registerImportCommand(program, io);
  return program;
}

/**
 * Runs the CLI on `argv` (without `node` and the script) and returns the exit code: 0 on
 * success, 1 on an error (printed as one line; the stack only with --verbose). With `--json`
 * the error is one JSON object on stderr, `{"code","message","details"}`, usage errors
 * (an unknown option, a missing argument) included as `VALIDATION`.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  // Not commander's .version(): a root --version would swallow the commands' own --version V.
  const json = argv.includes('--json');
  const verbose = argv.includes('--verbose');
  const program = buildProgram(io, json);
  const commands = new Set(program.commands.map((command) => command.name()));
  if (
    argv.some((arg) => arg === '--version' || arg === '-V') &&
    !argv.some((arg) => commands.has(arg))
  ) {
    io.stdout(`${VERSION}\n`);
    return 0;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (json && error.exitCode !== 0 && !HELP_CODES.has(error.code)) {
        io.stderr(formatJsonError(usageError(error), verbose));
      }
      return error.exitCode;
    }
    io.stderr(json ? formatJsonError(error, verbose) : formatError(error, verbose));
    return 1;
  }
}

/** Commander's exits that print help, not an error (help on stderr when a command is missing). */
const HELP_CODES = new Set(['commander.help', 'commander.helpDisplayed', 'commander.version']);

/** A command line commander refused, as the `VALIDATION` error it is for scripts. */
function usageError(error: CommanderError): ValidationError {
  return new ValidationError(error.message.replace(/^error: /, ''), {
    details: { usage: error.code },
  });
}
