/**
 * `hookdesk listen`: a tiny standalone webhook receiver for trying Hookdesk
 * out. It prints every POST it receives (event, delivery id, signature
 * verdict, body) and answers `{"received":true}`. It never opens the database
 * nor reads Hookdesk's configuration.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidArgumentError } from 'commander';
import { verifyWebhookSignature } from '../delivery/signature.js';

/** Largest request body read; larger bodies answer 413. */
const LISTEN_BODY_LIMIT_BYTES = 64 * 1024;

export interface ListenOptions {
  port: number;
  host: string;
  /** When set, `X-Webhook-Signature` is checked against it. */
  secret?: string | undefined;
  /** Status answered to every POST. */
  status: number;
  /** Where request blocks are printed (default stdout). */
  out?: NodeJS.WritableStream;
}

export interface Listener {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

// ---- option parsers (commander argParsers: a bad value exits with commander's one-line error)

export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected an integer from 0 to 65535.');
  return n;
}

export function parseStatus(value: string): number {
  const n = Number(value);
  if (!/^\d{3}$/.test(value) || n < 200 || n > 599)
    throw new InvalidArgumentError('expected an HTTP status from 200 to 599.');
  return n;
}

export function parseSecret(value: string): string {
  if (value.length === 0) throw new InvalidArgumentError('the secret must not be empty.');
  return value;
}

// ---- request handling

type Verdict = 'valid' | 'INVALID' | 'none sent' | 'not checked (no --secret)';

function verdict(secret: string | undefined, body: Buffer, header: string | undefined): Verdict {
  if (secret === undefined) return 'not checked (no --secret)';
  if (header === undefined) return 'none sent';
  return verifyWebhookSignature(secret, body, header) ? 'valid' : 'INVALID';
}

/** Control characters (other than tab and newline) escaped, so a body cannot drive the terminal. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) =>
    c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function describeBody(body: Buffer): string {
  if (body.length === 0) return '(empty body)';
  const text = body.toString('utf8');
  try {
    return JSON.stringify(JSON.parse(text) as unknown, null, 2);
  } catch {
    return printable(text);
  }
}

function block(req: IncomingMessage, lines: string[]): string {
  const head = `--- ${new Date().toISOString()}  ${req.method ?? '?'} ${printable(req.url ?? '/')}`;
  return [head, ...lines].join('\n') + '\n\n';
}

function answer(
  res: ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

function handle(
  opts: ListenOptions,
  out: NodeJS.WritableStream,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  if (req.method === 'GET' || req.method === 'HEAD') {
    // A liveness answer, so `curl` (and tests) can see the listener is up.
    answer(res, 200, { listening: true, hint: 'POST webhooks to any path' });
    return;
  }
  if (req.method !== 'POST') {
    answer(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD, POST' });
    return;
  }

  const event = header(req, 'x-webhook-event');
  const delivery = header(req, 'x-webhook-delivery');
  const signature = header(req, 'x-webhook-signature');
  const idLines = [
    `event: ${printable(event ?? '(none)')}`,
    `delivery: ${printable(delivery ?? '(none)')}`,
  ];
  const tooLarge = (): void => {
    out.write(
      block(req, [...idLines, `body: larger than ${LISTEN_BODY_LIMIT_BYTES} bytes, answered 413`]),
    );
    answer(res, 413, { error: 'payload_too_large' }, { connection: 'close' });
  };

  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > LISTEN_BODY_LIMIT_BYTES) {
    tooLarge();
    req.resume();
    return;
  }

  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  req.on('data', (chunk: Buffer) => {
    if (done) return;
    size += chunk.length;
    if (size > LISTEN_BODY_LIMIT_BYTES) {
      done = true;
      chunks.length = 0;
      tooLarge();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (done) return;
    done = true;
    const body = Buffer.concat(chunks);
    out.write(
      block(req, [
        ...idLines,
        `signature: ${verdict(opts.secret, body, signature)}`,
        describeBody(body),
      ]),
    );
    answer(res, opts.status, { received: true });
  });
  req.on('error', () => {
    done = true;
  });
}

/** Starts the receiver; resolves once it is listening. */
function startListener(opts: ListenOptions): Promise<Listener> {
  const out = opts.out ?? process.stdout;
  const server = createServer((req, res) => handle(opts, out, req, res));
  server.requestTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
      resolve({
        server,
        port,
        url: `http://${host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/**
 * The `hookdesk listen` command: starts the receiver, says where it listens
 * (on stderr; stdout carries only the request blocks) and closes on
 * SIGINT/SIGTERM. A listen failure (port in use…) is one line and exit code 1.
 */
export async function runListen(opts: ListenOptions): Promise<void> {
  let listener: Listener;
  try {
    listener = await startListener(opts);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'EADDRINUSE'
        ? 'the address is already in use'
        : error instanceof Error
          ? error.message
          : String(error);
    process.stderr.write(
      `hookdesk listen: cannot listen on ${opts.host}:${opts.port}: ${reason}\n`,
    );
    process.exitCode = 1;
    return;
  }
  process.stderr.write(
    `hookdesk listen: receiving webhooks on ${listener.url}/ (any path), answering ${opts.status}; ` +
      (opts.secret === undefined
        ? 'signatures not checked (no --secret)'
        : 'checking X-Webhook-Signature with the given secret') +
      '. Ctrl-C stops.\n',
  );
  const shutdown = (): void => {
    process.off('SIGINT', shutdown);
    process.off('SIGTERM', shutdown);
    void listener.close().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
