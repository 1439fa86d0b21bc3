import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder of the PySpark application shipped with this package. */
export const PYTHON_FOLDER = join(dirname(fileURLToPath(import.meta.url)), '..', 'python');

/** The application's entry point; the other modules of its folder go with --py-files. */
const MAIN = 'featurestore_job.py';

/** What a `spark-submit` command line is made of. */
export interface SparkSubmitSettings {
  /** The `spark-submit` program (default: `$SPARK_HOME/bin/spark-submit`, else on PATH). */
  sparkSubmit?: string;
  /** The cluster manager: `local[2]`, `spark://host:7077`, `yarn`, `k8s://…`. */
  master: string;
  /** Spark properties, `--conf KEY=VALUE` each. */
  conf?: Readonly<Record<string, string>>;
}

/** The spark-submit program to run. */
export function sparkSubmitProgram(settings: SparkSubmitSettings): string {
  if (settings.sparkSubmit) return settings.sparkSubmit;
  const home = process.env.SPARK_HOME;
  return home ? join(home, 'bin', 'spark-submit') : 'spark-submit';
}

/**
 * The arguments of one submission of the application, which connects back to the runner at
 * `address` (`host:port`). Client deploy mode: the driver runs here and reads and writes the
 * job's files and the result document where the runner sees them.
 */
export function sparkSubmitArguments(settings: SparkSubmitSettings, address: string): string[] {
  const modules = readdirSync(PYTHON_FOLDER)
    .filter((name) => name.endsWith('.py') && name !== MAIN)
    .sort()
    .map((name) => join(PYTHON_FOLDER, name));
  const conf = Object.entries(settings.conf ?? {}).flatMap(([key, value]) => [
    '--conf',
    `${key}=${value}`,
  ]);
  return [
    '--master',
    settings.master,
    '--deploy-mode',
    'client',
    '--name',
    'featurestore',
    ...conf,
    '--py-files',
    modules.join(','),
    join(PYTHON_FOLDER, MAIN),
    address,
  ];
}
