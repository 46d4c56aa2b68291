/**
 * The benchmark's webhook receiver, run as its own process (so neither the
 * sender under test nor the harness shares its event loop): HTTPS on
 * loopback with the test certificate (test/fixtures/tls), answering 200 with
 * a small body. It keeps, per group (the first path segment: `/drain/3` is
 * group `drain`), the number of requests, the first and last arrival, and —
 * for groups it is told to — the latency from the event's `timestamp` (set
 * by Hookdesk inside the transaction that commits the event) to arrival.
 *
 * Driven over IPC by bench/lib/receiver.ts.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReceiverCommand, ReceiverGroupStats, ReceiverReply } from './receiver.js';

const tls = (name: string) =>
  readFileSync(new URL(`../../test/fixtures/tls/${name}`, import.meta.url));

interface Group {
  count: number;
  firstAt: number;
  lastAt: number;
  latencies: number[];
  byPath: Map<string, number>;
  latencyByPath: Map<string, number[]>;
}

const groups = new Map<string, Group>();
let trackLatency = new Set<string>();
let hangPaths = new Set<string>();
/** Groups whose deliveries fail (HTTP 500) on the first attempt of each delivery id. */
let failFirst = new Set<string>();
const seen = new Set<string>();
const hung = new Set<ServerResponse>();
/** TLS connections accepted so far: new connections mean keep-alive was not used. */
let connections = 0;
const TIMESTAMP = /"timestamp":"([^"]+)"/;
/** Bounds what one group can hold in memory (latency samples). */
const MAX_SAMPLES = 2_000_000;

function groupOf(path: string): string {
  const second = path.indexOf('/', 1);
  return second === -1 ? path.slice(1) : path.slice(1, second);
}

function group(name: string): Group {
  let g = groups.get(name);
  if (!g) {
    g = {
      count: 0,
      firstAt: 0,
      lastAt: 0,
      latencies: [],
      byPath: new Map(),
      latencyByPath: new Map(),
    };
    groups.set(name, g);
  }
  return g;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    const path = req.url ?? '/';
    const name = groupOf(path);
    const g = group(name);
    g.count += 1;
    if (g.firstAt === 0) g.firstAt = at;
    g.lastAt = at;
    g.byPath.set(path, (g.byPath.get(path) ?? 0) + 1);
    if (trackLatency.has(name) && g.latencies.length < MAX_SAMPLES) {
      const body = Buffer.concat(chunks).toString('utf8');
      const m = TIMESTAMP.exec(body);
      const ts = m?.[1] ? Date.parse(m[1]) : NaN;
      if (!Number.isNaN(ts)) {
        g.latencies.push(at - ts);
        let list = g.latencyByPath.get(path);
        if (!list) g.latencyByPath.set(path, (list = []));
        list.push(at - ts);
      }
    }
    if (hangPaths.has(path)) {
      hung.add(res);
      res.once('close', () => hung.delete(res));
      return;
    }
    if (failFirst.has(name)) {
      const id = String(req.headers['x-webhook-delivery'] ?? '');
      if (!seen.has(id)) {
        seen.add(id);
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('try again');
        return;
      }
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
}

function stats(name: string): ReceiverGroupStats {
  const g = group(name);
  return {
    count: g.count,
    firstAt: g.firstAt,
    lastAt: g.lastAt,
    latencies: g.latencies,
    byPath: Object.fromEntries(g.byPath),
    latencyByPath: Object.fromEntries(g.latencyByPath),
  };
}

function reply(r: ReceiverReply): void {
  process.send?.(r);
}

process.on('message', (msg: ReceiverCommand) => {
  switch (msg.cmd) {
    case 'config':
      trackLatency = new Set(msg.latency ?? []);
      hangPaths = new Set(msg.hang ?? []);
      failFirst = new Set(msg.failFirst ?? []);
      reply({ id: msg.id, ok: true });
      break;
    case 'stats':
      reply({ id: msg.id, ok: true, stats: stats(msg.group) });
      break;
    case 'counts':
      reply({
        id: msg.id,
        ok: true,
        counts: {
          ...Object.fromEntries([...groups].map(([k, g]) => [k, g.count])),
          '*connections': connections,
        },
      });
      break;
    case 'release':
      // Stop hanging; answer every hung request now.
      hangPaths = new Set();
      for (const res of hung) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('released');
      }
      hung.clear();
      reply({ id: msg.id, ok: true });
      break;
    case 'clear':
      groups.delete(msg.group);
      reply({ id: msg.id, ok: true });
      break;
    case 'close':
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      server.close(() => process.exit(0));
      setTimeout(() => process.exit(0), 2_000).unref();
      break;
  }
});

const server: Server = createServer({ key: tls('server.key'), cert: tls('server.pem') }, handle);
// Keep connections between bursts, as a real receiver behind a load balancer would.
server.keepAliveTimeout = 65_000;
server.on('secureConnection', () => (connections += 1));
server.headersTimeout = 66_000;
server.listen(0, '127.0.0.1', () => {
  reply({ id: 0, ok: true, port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
