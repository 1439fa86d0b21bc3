import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** An answer of the HTTP port: status, headers and the body as text. */
export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON. */
  json<T = Record<string, unknown>>(): T;
}

/**
 * One request to the HTTP port, as curl would send it (a fresh connection each time).
 * `https` trusts `ca` and checks the certificate against `servername`.
 */
export function httpCall(
  url: string,
  options: {
    method?: string;
    body?: string;
    headers?: Record<string, string>;
    ca?: Buffer;
    servername?: string;
    cert?: Buffer;
    key?: Buffer;
  } = {},
): Promise<HttpAnswer> {
  const secure = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const request = (secure ? httpsRequest : httpRequest)(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: false,
        ...(secure
          ? {
              ca: options.ca,
              servername: options.servername,
              ...(options.cert ? { cert: options.cert, key: options.key } : {}),
            }
          : {}),
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body,
            json: <T>() => JSON.parse(body) as T,
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}
