/**
 * A raw TCP client that sends a request as slowly as an attacker would: what
 * the server answers to a request that never finishes arriving, and when it
 * closes the connection, is only visible on a real socket (`inject()` has no
 * connection and no timers).
 */
import { connect } from 'node:net';

export interface SlowExchange {
  /** Everything the server sent, as latin1 text. */
  received: string;
  /** Milliseconds from connecting until the server closed the connection (or the client gave up). */
  elapsedMs: number;
  /** False when the client gave up after `giveUpAfterMs` with the connection still open. */
  closedByServer: boolean;
  /** Bytes of `trickle` written before the connection closed. */
  trickled: number;
}

export interface SlowRequest {
  port: number;
  /** Written at once on connecting. */
  head: string;
  /** Written one element at a time, `intervalMs` apart, after `head`. */
  trickle: string[];
  intervalMs: number;
  /** The client closes the connection itself after this long; bounds every exchange. */
  giveUpAfterMs: number;
}

export function slowRequest(opts: SlowRequest): Promise<SlowExchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(opts.port, '127.0.0.1');
    let received = '';
    let trickled = 0;
    let gaveUp = false;
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      gaveUp = true;
      socket.destroy();
    }, opts.giveUpAfterMs);
    const next = () => {
      const piece = opts.trickle[trickled];
      if (piece === undefined || socket.destroyed || !socket.writable) return;
      socket.write(piece);
      trickled += 1;
      timer = setTimeout(next, opts.intervalMs);
    };
    socket.on('connect', () => {
      socket.write(opts.head);
      timer = setTimeout(next, opts.intervalMs);
    });
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    // A reset after the server's answer is a close too; the answer is kept.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(giveUp);
      clearTimeout(timer);
      resolve({ received, elapsedMs: Date.now() - started, closedByServer: !gaveUp, trickled });
    });
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits raw HTTP/1.1 text into its responses (Content-Length framed, as Hookdesk answers). */
export function parseResponses(raw: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = raw;
  for (let i = 0; i < 10 && rest.startsWith('HTTP/'); i += 1) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const body = rest.slice(end + 4, end + 4 + length);
    responses.push({ status: Number(statusLine.split(' ')[1]), headers, body });
    rest = rest.slice(end + 4 + length);
  }
  if (rest !== '') responses.push({ status: 0, headers: {}, body: rest });
  return responses;
}
