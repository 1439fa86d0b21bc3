import { type DeadLetter, DeadLetterError } from '@featurestore/core';
import { type DestinationStream, type Logger, pino } from 'pino';
import { redactSecrets } from './redact-secrets.js';

export type { Logger };

/** What the online workers report while they run: failed batches (retried) and dead letters. */
export interface WorkerReports {
  onError(error: unknown): void;
  onDeadLetter(letter: DeadLetter): void;
}

/**
 * A pino logger writing JSON lines to stderr (stdout stays a command's output). Secrets are
 * blanked from each line: an error from a driver or library may quote a connection URL.
 */
export function createLogger(level = 'info', destination?: DestinationStream): Logger {
  return pino(
    { name: 'featurestore', level, hooks: { streamWrite: redactSecrets } },
    destination ?? pino.destination(2),
  );
}

/** The workers' reports as log lines: a dead letter is logged once, as a dead letter. */
export function workerReports(logger: Logger): WorkerReports {
  return {
    onError(error) {
      // The offline sync also reports each dead letter as an error: `onDeadLetter` logs it.
      if (error instanceof DeadLetterError) return;
      logger.warn({ err: error }, 'an online ingest batch failed; it will be delivered again');
    },
    onDeadLetter({ message, group, deadLetterTopic, error }) {
      logger.warn(
        {
          group,
          topic: message.topic,
          partition: message.partition,
          offset: message.offset,
          deadLetterTopic,
          code: error.code,
          reason: error.message,
        },
        'moved a message that can never be handled to the dead-letter topic',
      );
    },
  };
}
