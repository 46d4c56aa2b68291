/**
 * `hookdesk listen`: a tiny standalone webhook receiver for trying Hookdesk
 * out, like `stripe listen`. It prints every POST it receives (event,
 * delivery id, the attempt number as this listener counts it, signature
 * verdict, body) and answers `{"received":true}`, or relays each delivery to
 * a local app with `--forward-to`. It never opens the database nor reads
 * Hookdesk's configuration. The request handling is in ./listen/.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidArgumentError } from 'commander';
import { AttemptCounter } from './listen/attempts.js';
import { handle } from './listen/handle.js';

export interface ListenOptions {
  port: number;
  host: string;
  /** When set, `X-Webhook-Signature` and `webhook-signature` are checked against it. */
  secret?: string | undefined;
  /** Status answered to every POST when not forwarding. */
  status: number;
  /** When set, each POST whose signature passes is relayed to exactly this URL. */
  forwardTo?: URL | undefined;
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

export function parseForwardTo(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InvalidArgumentError(
      'expected an http:// or https:// URL, such as http://127.0.0.1:3000/webhooks.',
    );
  if (url.username !== '' || url.password !== '')
    throw new InvalidArgumentError('the URL must not contain a user name or password.');
  return url;
}

/** Loopback and wildcard names that reach a listener bound to `host`. */
function reachesListener(url: URL, host: string, port: number): boolean {
  const urlPort = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  if (port === 0 || urlPort !== port) return false;
  const name = url.hostname.replace(/^\[|\]$/g, '');
  return ['localhost', '127.0.0.1', '::1', '0.0.0.0', '::', host].includes(name);
}

/** Starts the receiver; resolves once it is listening. */
function startListener(opts: ListenOptions): Promise<Listener> {
  const handlerOptions = {
    secret: opts.secret,
    status: opts.status,
    forwardTo: opts.forwardTo,
    out: opts.out ?? process.stdout,
    attempts: new AttemptCounter(),
    now: Date.now,
  };
  const server = createServer((req, res) => handle(handlerOptions, req, res));
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

function announce(opts: ListenOptions, listener: Listener): string {
  const signatures =
    opts.secret === undefined
      ? 'signatures not checked (no --secret)'
      : 'checking X-Webhook-Signature and webhook-signature with the given secret';
  const answers =
    opts.forwardTo === undefined
      ? `answering ${opts.status}`
      : `forwarding to ${opts.forwardTo.href} and answering what it answers`;
  return `hookdesk listen: receiving webhooks on ${listener.url}/ (any path), ${answers}; ${signatures}. Ctrl-C stops.\n`;
}

/**
 * The `hookdesk listen` command: starts the receiver, says where it listens
 * (on stderr; stdout carries only the request blocks) and closes on
 * SIGINT/SIGTERM. A listen failure (port in use…) is one line and exit code 1.
 */
export async function runListen(opts: ListenOptions): Promise<void> {
  if (opts.forwardTo !== undefined && reachesListener(opts.forwardTo, opts.host, opts.port)) {
    // Each request would forward to itself until every one timed out.
    process.stderr.write(
      `hookdesk listen: --forward-to ${opts.forwardTo.href} is this listener itself; forward to your app's port.\n`,
    );
    process.exitCode = 1;
    return;
  }
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
  process.stderr.write(announce(opts, listener));
  const shutdown = (): void => {
    process.off('SIGINT', shutdown);
    process.off('SIGTERM', shutdown);
    void listener.close().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
