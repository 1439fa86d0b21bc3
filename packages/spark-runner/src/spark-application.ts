import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { type JobProgress, UnavailableError } from '@featurestore/core/driver';
import {
  type SparkSubmitSettings,
  sparkSubmitArguments,
  sparkSubmitProgram,
} from './spark-submit-command.js';

/** How one application is started. */
export interface SparkApplicationOptions extends SparkSubmitSettings {
  /** The Python that runs the driver and the executors' tasks (`PYSPARK_PYTHON`). */
  python?: string;
  /** Extra environment of `spark-submit` (JAVA_HOME, SPARK_HOME…). */
  env?: Readonly<Record<string, string>>;
  /** The address the application connects back to (default 127.0.0.1: client mode). */
  callbackHost?: string;
  /** How long Spark may take to start before the submission is given up (default 5 min). */
  startTimeoutMs?: number;
}

/** One job as sent to the application (see python/featurestore_job.py). */
export interface SparkRequest {
  id: string;
  spec: unknown;
  /** The URI the result document is written to. */
  result: string;
  /** Where an ingest job stages its parts (under its output prefix). */
  staging?: string;
  /** Where a retrieve or historical job writes its output before the rename. */
  temporary?: string;
}

interface Pending {
  id: string;
  onProgress: (progress: JobProgress) => void;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Lines of Spark's log kept for messages when the application fails. */
const LOG_LINES = 200;

/**
 * One submission of the PySpark application: a `spark-submit` child process (the leader of
 * its own process group, so that killing it takes the JVM and its Python workers along) and
 * the connection it opens back to this process, over which jobs go out and progress and
 * completion come back. Jobs run one at a time.
 */
export class SparkApplication {
  readonly #child: ChildProcess;
  readonly #server: Server;
  readonly #log: string[] = [];
  readonly #exited: Promise<number | null>;
  #socket: Socket | undefined;
  #pending: Pending | undefined;
  #exitCode: number | null | undefined;

  private constructor(child: ChildProcess, server: Server) {
    this.#child = child;
    this.#server = server;
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exitCode = code ?? (signal ? -1 : null);
        this.#server.close();
        this.#pending?.reject(this.#failure('ended while running a job'));
        this.#pending = undefined;
        resolve(code);
      });
    });
    const keep = (stream: NodeJS.ReadableStream | null) => {
      if (!stream) return;
      createInterface({ input: stream }).on('line', (line) => {
        this.#log.push(line);
        if (this.#log.length > LOG_LINES) this.#log.shift();
      });
    };
    keep(child.stdout);
    keep(child.stderr);
  }

  /**
   * Submits the application and waits until Spark is up and the application has connected
   * back. Fails with `UnavailableError` (and Spark's last log lines) when it cannot start;
   * `signal` kills the submission while it starts (a cancelled job does not wait for Spark).
   */
  static async start(
    options: SparkApplicationOptions,
    signal?: AbortSignal,
  ): Promise<SparkApplication> {
    const server = createServer();
    const host = options.callbackHost ?? '127.0.0.1';
    server.listen(0, host);
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    const program = sparkSubmitProgram(options);
    const child = spawn(program, sparkSubmitArguments(options, `${host}:${address.port}`), {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...options.env,
        // Times without a zone mean UTC in the driver's and the workers' Python as well.
        TZ: 'UTC',
        ...(options.python ? { PYSPARK_PYTHON: options.python } : {}),
      },
    });
    const application = new SparkApplication(child, server);
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) =>
        reject(
          new UnavailableError(
            `spark-submit (${program}) cannot be started: ${error.message}; install Spark (pip install pyspark) and set SPARK_HOME or drivers.spark.sparkSubmit`,
            { cause: error, details: { program } },
          ),
        ),
      );
    });
    await spawned;
    const kill = () => void application.kill();
    signal?.addEventListener('abort', kill, { once: true });
    try {
      await application.#connected(options.startTimeoutMs ?? 300_000);
    } finally {
      signal?.removeEventListener('abort', kill);
    }
    return application;
  }

  /** True until the application has ended. */
  get alive(): boolean {
    return this.#exitCode === undefined;
  }

  /** Spark's last log lines, for messages. */
  get log(): readonly string[] {
    return this.#log;
  }

  /** Sends one job and resolves when its result document is in place. */
  run(request: SparkRequest, onProgress: (progress: JobProgress) => void): Promise<void> {
    if (!this.alive || !this.#socket) {
      return Promise.reject(this.#failure('is not running'));
    }
    if (this.#pending) return Promise.reject(new Error('the application runs one job at a time'));
    return new Promise<void>((resolve, reject) => {
      this.#pending = { id: request.id, onProgress, resolve, reject };
      this.#socket!.write(`${JSON.stringify(request)}\n`);
    });
  }

  /** Kills the submission at once (JVM, Python driver and workers) and waits until it ended. */
  async kill(): Promise<void> {
    if (this.alive && this.#child.pid !== undefined) {
      try {
        process.kill(-this.#child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await this.#exited;
  }

  /** Lets the application finish (it stops Spark when the connection closes) and waits. */
  async close(): Promise<void> {
    this.#socket?.end();
    const ended = await Promise.race([
      this.#exited.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 30_000).unref()),
    ]);
    if (!ended) await this.kill();
  }

  async #connected(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve, reject) => {
          this.#server.once('connection', (socket: Socket) => {
            this.#socket = socket;
            // Only the application connects; later connections are not listened to.
            this.#server.close();
            socket.on('error', () => undefined);
            const lines = createInterface({ input: socket });
            lines.on('line', (line) => {
              const message = JSON.parse(line) as {
                ready?: boolean;
                id?: string;
                progress?: JobProgress;
                done?: boolean;
              };
              if (message.ready) resolve();
              else this.#message(message);
            });
          });
          this.#exited.then(() => reject(this.#failure('ended before it started')));
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(this.#failure(`did not start within ${timeoutMs / 1000} s`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      await this.kill();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #message(message: { id?: string; progress?: JobProgress; done?: boolean }): void {
    const pending = this.#pending;
    if (!pending || message.id !== pending.id) return;
    if (message.progress) pending.onProgress(message.progress);
    if (message.done) {
      this.#pending = undefined;
      pending.resolve();
    }
  }

  #failure(what: string): UnavailableError {
    // Spark's own errors and the Python traceback, not its INFO chatter.
    const relevant = this.#log.filter((line) => !/^\d\d\/\d\d\/\d\d .* INFO /.test(line));
    const tail = relevant.slice(-20).join('\n');
    const code = this.#exitCode === undefined ? '' : ` (exit code ${this.#exitCode})`;
    return new UnavailableError(
      `the Spark application ${what}${code}: check the master URL and that the cluster has free cores${tail ? `; Spark said:\n${tail}` : ''}`,
      { details: { exitCode: this.#exitCode ?? null } },
    );
  }
}
