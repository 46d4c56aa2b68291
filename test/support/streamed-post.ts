/**
 * POSTs over a real loopback connection whose body is generated while it is
 * sent, never held whole: how much of a large body a server reads before it
 * answers, and whether it stops reading after answering, is only visible on
 * a real socket (`inject()` hands the body over in one piece).
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http';

export const MiB = 1024 * 1024;

export interface StreamedAnswer {
  status: number | undefined;
  headers: IncomingHttpHeaders;
  body: string;
  /** Body bytes handed to the socket before writing stopped. */
  sent: number;
  /** The server closed the connection before the whole body was sent. */
  cutOff: boolean;
  /** Neither an answer nor a close came in time: the server left the connection hanging. */
  timedOut: boolean;
}

export interface StreamedPost {
  url: string;
  headers: Record<string, string>;
  body: Iterable<Buffer>;
  /**
   * Bytes still written after the answer arrived: a server that keeps the
   * connection open past them would have read the whole body.
   */
  afterAnswer: number;
  timeoutMs: number;
}

/**
 * Writes the body chunk by chunk, honouring backpressure, until the server
 * closes the connection, `afterAnswer` bytes after its answer, or the end of
 * the body, whichever comes first; then waits for the answer.
 */
export async function streamedPost(opts: StreamedPost): Promise<StreamedAnswer> {
  // Keep-alive, so that closing the connection is the server's decision, not the client's.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const req = request(opts.url, { method: 'POST', headers: opts.headers, agent });
  const answer: StreamedAnswer = {
    status: undefined,
    headers: {},
    body: '',
    sent: 0,
    cutOff: false,
    timedOut: false,
  };
  let answeredAt: number | undefined;
  let closed = false;
  let answered = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const done = new Promise<void>((resolve) => {
    req.on('response', (res) => {
      answeredAt = answer.sent;
      answer.status = res.statusCode;
      answer.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (answer.body += chunk));
      res.on('end', () => {
        answered = true;
        resolve();
        poke();
      });
      res.on('error', () => resolve());
    });
    const onClosed = () => {
      closed = true;
      resolve();
      poke();
    };
    req.on('error', onClosed);
    req.on('close', onClosed);
  });
  const timer = setTimeout(() => {
    answer.timedOut = true;
    req.destroy();
  }, opts.timeoutMs);
  try {
    let finished = true;
    for (const chunk of opts.body) {
      if (closed || (answeredAt !== undefined && answer.sent - answeredAt > opts.afterAnswer)) {
        finished = false;
        break;
      }
      const flushed = req.write(chunk);
      answer.sent += chunk.length;
      if (!flushed && !closed) {
        await new Promise<void>((resolve) => {
          const resume = () => {
            req.off('drain', resume);
            resolve();
          };
          wake = resume;
          req.once('drain', resume);
        });
      }
    }
    answer.cutOff = closed && !finished && !answer.timedOut;
    if (finished && !closed) req.end();
    else if (!closed) req.destroy();
    await done;
    // The answer may still be arriving when the connection closes under the body.
    if (answer.status !== undefined && !answered) await new Promise((r) => setTimeout(r, 50));
    return answer;
  } finally {
    clearTimeout(timer);
    req.destroy();
    agent.destroy();
  }
}

export interface StreamedPart {
  name: string;
  /** A file part when set. */
  filename?: string;
  /** Small values are given whole... */
  value?: string;
  /** ...large ones by size, generated as `a`s a MiB at a time. */
  size?: number;
}

const FILLER = Buffer.alloc(MiB, 'a');

/** A multipart/form-data body generated part by part; the largest piece in memory is one MiB. */
export function* multipartStream(boundary: string, parts: StreamedPart[]): Generator<Buffer> {
  for (const part of parts) {
    const disposition = part.filename
      ? `form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: application/octet-stream`
      : `form-data; name="${part.name}"`;
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n`);
    if (part.value !== undefined) yield Buffer.from(part.value);
    for (let left = part.size ?? 0; left > 0; left -= FILLER.length) {
      yield left >= FILLER.length ? FILLER : FILLER.subarray(0, left);
    }
    yield Buffer.from('\r\n');
  }
  yield Buffer.from(`--${boundary}--\r\n`);
}

/** A large body of any type, as `a`s a MiB at a time, after an optional prefix. */
export function* fillerStream(size: number, prefix = ''): Generator<Buffer> {
  if (prefix) yield Buffer.from(prefix);
  for (let left = size; left > 0; left -= FILLER.length) {
    yield left >= FILLER.length ? FILLER : FILLER.subarray(0, left);
  }
}
