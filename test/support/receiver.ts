/**
 * A real HTTPS webhook receiver on loopback, signed by the test CA
 * (test/fixtures/tls). Each request is recorded with its raw body and arrival
 * time; `respond` decides the answer per request (status, body, delay, or a
 * hang until the client gives up).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url));
export const CA_FILE = new URL('../fixtures/tls/ca.pem', import.meta.url).pathname;

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export interface Reply {
  status?: number;
  body?: string | Buffer;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Never answer; the socket stays open until the client gives up or the server closes. */
  hang?: boolean;
}

export type Responder = (req: Received, index: number) => Reply;

export class Receiver {
  readonly received: Received[] = [];
  respond: Responder = () => ({ status: 200, body: 'ok' });
  private server: Server | null = null;
  private readonly waiters: { count: number; resolve: () => void }[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  connections = 0;
  /** Requests received and not yet answered, and the most ever at once, by path. */
  readonly inflight = new Map<string, number>();
  readonly maxInflight = new Map<string, number>();

  constructor(private readonly cert: 'server' | 'untrusted' = 'server') {}

  async start(): Promise<this> {
    this.server = createServer(
      { key: fixture(`${this.cert}.key`), cert: fixture(`${this.cert}.pem`) },
      (req, res) => this.handle(req, res),
    );
    this.server.on('secureConnection', () => (this.connections += 1));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  url(path = '/hook'): string {
    return `https://127.0.0.1:${this.port}${path}`;
  }

  /** Resolves once `count` requests have arrived, or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`receiver got ${this.received.length}/${count} requests`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: Received = {
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      };
      const index = this.received.push(received) - 1;
      for (const w of [...this.waiters]) {
        if (this.received.length >= w.count) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve();
        }
      }
      const path = received.path;
      const now = (this.inflight.get(path) ?? 0) + 1;
      this.inflight.set(path, now);
      this.maxInflight.set(path, Math.max(now, this.maxInflight.get(path) ?? 0));
      res.once('close', () => this.inflight.set(path, (this.inflight.get(path) ?? 1) - 1));
      const reply = this.respond(received, index);
      if (reply.hang) return;
      const send = () => {
        res.writeHead(reply.status ?? 200, reply.headers ?? {});
        res.end(reply.body ?? '');
      };
      if (reply.delayMs) {
        const t = setTimeout(() => {
          this.timers.delete(t);
          send();
        }, reply.delayMs);
        this.timers.add(t);
      } else send();
    });
  }
}

/** A receiver started before the suite's tests and closed after them. */
export function useReceiver(cert: 'server' | 'untrusted' = 'server'): Receiver {
  const receiver = new Receiver(cert);
  beforeAll(async () => {
    await receiver.start();
  });
  afterAll(async () => {
    await receiver.close();
  });
  return receiver;
}
