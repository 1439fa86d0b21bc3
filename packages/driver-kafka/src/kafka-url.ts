import { ValidationError } from '@featurestore/core/driver';

/** What a `kafka://` URL says: the brokers, TLS, and SASL credentials when given. */
export interface KafkaLocation {
  brokers: string[];
  /** `kafkas://` (or `?tls=true`): connect with TLS. */
  ssl: boolean;
  sasl?: {
    mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    username: string;
    password: string;
  };
}

const DEFAULT_PORT = 9092;
const MECHANISMS = new Set(['plain', 'scram-sha-256', 'scram-sha-512']);

/**
 * Parses `kafka://host1:9092,host2:9092`: a comma-separated broker list (port 9092 when
 * omitted, IPv6 in brackets). `kafkas://` turns TLS on; `user:password@` adds SASL, PLAIN
 * unless `?mechanism=scram-sha-256|scram-sha-512` says otherwise.
 *
 * @example
 * parseKafkaUrl('kafka://k1,k2:9093'); // { brokers: ['k1:9092', 'k2:9093'], ssl: false }
 */
export function parseKafkaUrl(url: string): KafkaLocation {
  const match = /^(kafkas?):\/\/(?:([^@/?#]*)@)?([^/?#]+)\/?(?:\?([^#]*))?$/i.exec(url.trim());
  if (!match) {
    throw invalid(url, 'expected kafka://host:port[,host:port…] or kafkas://…');
  }
  const [, scheme, userinfo, hosts, query] = match;
  const params = new URLSearchParams(query ?? '');
  const brokers = hosts!.split(',').map((host) => normalizeBroker(url, host.trim()));
  const location: KafkaLocation = {
    brokers,
    ssl: scheme!.toLowerCase() === 'kafkas' || params.get('tls') === 'true',
  };
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    if (colon < 0) throw invalid(url, 'credentials must be user:password');
    const mechanism = (params.get('mechanism') ?? 'plain').toLowerCase();
    if (!MECHANISMS.has(mechanism)) {
      throw invalid(
        url,
        `unknown SASL mechanism "${mechanism}": use plain, scram-sha-256 or scram-sha-512`,
      );
    }
    location.sasl = {
      mechanism: mechanism as NonNullable<KafkaLocation['sasl']>['mechanism'],
      username: decodeURIComponent(userinfo.slice(0, colon)),
      password: decodeURIComponent(userinfo.slice(colon + 1)),
    };
  }
  return location;
}

function normalizeBroker(url: string, host: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(host);
  if (!match) throw invalid(url, `"${host}" is not a host or host:port`);
  const port = Number(match[2] ?? DEFAULT_PORT);
  if (port < 1 || port > 65535) throw invalid(url, `port ${port} is out of range`);
  return `${match[1]}:${port}`;
}

function invalid(url: string, why: string): ValidationError {
  // Never echo credentials.
  const shown = url.replace(/\/\/[^@/]*@/, '//***@');
  return new ValidationError(`invalid Kafka URL ${JSON.stringify(shown)}: ${why}`, {
    details: { field: 'url', value: shown },
  });
}
