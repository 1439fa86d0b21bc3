import type { ChannelOptions } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';

/** The limits `featurestore serve` puts on each connection and message. */
export interface MessageLimits {
  /** The largest request message accepted, in bytes. */
  maxReceiveMessageBytes: number;
  /** The largest response message sent, in bytes. */
  maxSendMessageBytes: number;
  /** The most calls one connection may have open at once (HTTP/2 concurrent streams). */
  maxConcurrentStreams: number;
}

/**
 * The defaults: 16 MiB messages each way (gRPC's own default is 4 MiB; a push of a few
 * thousand rows fits, and files travel in chunks by client streaming), 1,000 calls per
 * connection (a client sharing one channel between many callers).
 */
export const DEFAULT_MESSAGE_LIMITS: Readonly<MessageLimits> = {
  maxReceiveMessageBytes: 16 * 1024 * 1024,
  maxSendMessageBytes: 16 * 1024 * 1024,
  maxConcurrentStreams: 1000,
};

/** The grpc-js server options enforcing `limits`. */
export function limitOptions(limits: MessageLimits): ChannelOptions {
  return {
    'grpc.max_receive_message_length': limits.maxReceiveMessageBytes,
    'grpc.max_send_message_length': limits.maxSendMessageBytes,
    'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
  };
}

const RECEIVED = /^Received message larger than max \((\d+) vs\.? (\d+)\)$/;
const SENT = /^Sent message larger than max \((\d+) vs\.? (\d+)\)$/;

/**
 * grpc-js's own RESOURCE_EXHAUSTED for a message over a limit, reworded to say which limit,
 * which flag raises it and what the caller can do; any other status unchanged.
 */
export function explainLimitStatus<S extends { code: status; details: string }>(value: S): S {
  if (value.code !== status.RESOURCE_EXHAUSTED) return value;
  const received = RECEIVED.exec(value.details);
  if (received) {
    return {
      ...value,
      details: `the request message is ${received[1]} bytes, over this server's limit of ${received[2]} bytes (featurestore serve --max-receive-message-size): send smaller messages, e.g. push rows in several calls or upload files in chunks`,
    };
  }
  const sent = SENT.exec(value.details);
  if (sent) {
    return {
      ...value,
      details: `the response message would be ${sent[1]} bytes, over this server's limit of ${sent[2]} bytes (featurestore serve --max-send-message-size): ask for less per call (fewer keys or features, a smaller page)`,
    };
  }
  return value;
}
