/**
 * The egress agent against real servers on loopback: the allow list is what
 * lets these tests reach 127.0.0.1 at all, which is the point.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { promises as dns } from 'node:dns';
import {
  createServer as createTcpServer,
  type AddressInfo,
  type Server,
  type Socket,
} from 'node:net';
import { rootCertificates } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { request, type Agent } from 'undici';
import { trustedCas } from '../src/egress/agent.js';
import {
  BlockedDestinationError,
  createEgressAgent,
  createEgressPolicy,
  type Resolver,
} from '../src/egress/index.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/tls/${name}`, import.meta.url), 'utf8');
const CA = fixture('ca.pem');
const TRUSTED = { cert: fixture('server.pem'), key: fixture('server.key') };
const UNTRUSTED = { cert: fixture('untrusted.pem'), key: fixture('untrusted.key') };

interface Receiver {
  port: number;
  /** TCP connections the server accepted. */
  connections: () => number;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: Server | HttpServer, host: string): Promise<Receiver> {
  const sockets = new Set<Socket>();
  let connections = 0;
  server.on('connection', (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  cleanups.push(async () => {
    // Destroy what is still open (a silent peer, a kept-alive socket) so close() returns.
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

function httpsReceiver(tls = TRUSTED, host = '127.0.0.1'): Promise<Receiver> {
  return listen(
    createHttpsServer(tls, (_req, res) => res.end('ok')),
    host,
  );
}

function agentFor(
  allow: string[],
  opts: Parameters<typeof createEgressAgent>[1] = { ca: CA },
  allowHttp = false,
): Agent {
  const agent = createEgressAgent(createEgressPolicy({ allowHttp, allow }), opts);
  cleanups.push(() => agent.destroy());
  return agent;
}

/** One request with every wait bounded; the body is always consumed. */
async function get(url: string, dispatcher: Agent): Promise<{ status: number; body: string }> {
  const res = await request(url, {
    dispatcher,
    signal: AbortSignal.timeout(5_000),
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  return { status: res.statusCode, body: await res.body.text() };
}

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  const result = await promise.then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string },
  );
  if (result === undefined) throw new Error('expected the request to fail');
  return result;
}

describe('createEgressAgent', () => {
  it('delivers to an allow-listed IP literal over TLS trusted through the extra CA', async () => {
    const server = await httpsReceiver();
    const res = await get(`https://127.0.0.1:${server.port}/`, agentFor(['127.0.0.1']));
    expect(res).toEqual({ status: 200, body: 'ok' });
    expect(server.connections()).toBe(1);
  });

  it('refuses an IP literal that is not allow-listed before connecting', async () => {
    const server = await httpsReceiver();
    const error = await failure(get(`https://127.0.0.1:${server.port}/`, agentFor([])));
    expect(error).toBeInstanceOf(BlockedDestinationError);
    expect(error.code).toBe('blocked_destination');
    expect(server.connections()).toBe(0);
  });

  it('applies a port in the allow list to IP literals', async () => {
    const server = await httpsReceiver();
    const url = `https://127.0.0.1:${server.port}/`;
    expect((await get(url, agentFor([`127.0.0.1:${server.port}`]))).status).toBe(200);
    const other = await failure(get(url, agentFor([`127.0.0.1:${server.port === 1 ? 2 : 1}`])));
    expect(other.code).toBe('blocked_destination');
    expect(server.connections()).toBe(1);
  });

  it('resolves host names through the guarded lookup', async () => {
    // Listen where "localhost" resolves first, which is the address the lookup picks.
    const [first] = await dns.lookup('localhost', { all: true });
    const server = await httpsReceiver(TRUSTED, first!.address);
    const url = `https://localhost:${server.port}/`;

    expect((await get(url, agentFor(['localhost']))).status).toBe(200);
    expect((await get(url, agentFor([`localhost:${server.port}`]))).status).toBe(200);
    expect(server.connections()).toBe(2);

    for (const allow of [[], [`localhost:${server.port === 1 ? 2 : 1}`]]) {
      const error = await failure(get(url, agentFor(allow)));
      expect(error.code).toBe('blocked_destination');
    }
    expect(server.connections()).toBe(2);
  });

  it('refuses a name with any blocked answer, resolving once, without connecting', async () => {
    const server = await httpsReceiver();
    const calls: string[] = [];
    const resolver: Resolver = async (hostname) => {
      calls.push(hostname);
      // Loopback only, so a broken guard would still send nothing off the machine:
      // 127.0.0.1 is allow-listed, 127.0.0.2 is not.
      return [
        { address: '127.0.0.1', family: 4 },
        { address: '127.0.0.2', family: 4 },
      ];
    };
    const agent = agentFor(['127.0.0.1'], { ca: CA, resolver });
    const error = await failure(get(`https://rebind.example:${server.port}/`, agent));
    expect(error).toMatchObject({ code: 'blocked_destination', address: '127.0.0.2' });
    expect(calls).toEqual(['rebind.example']);
    expect(server.connections()).toBe(0);
  });

  it('fails TLS, not the egress check, when the receiver CA is not trusted', async () => {
    const server = await httpsReceiver();
    const error = await failure(
      get(`https://127.0.0.1:${server.port}/`, agentFor(['127.0.0.1'], {})),
    );
    expect(error).not.toBeInstanceOf(BlockedDestinationError);
    expect(error.code).toMatch(/CERT|UNABLE_TO_VERIFY|SELF_SIGNED/);
    expect(server.connections()).toBe(1);
  });

  it('still rejects a certificate the extra CA did not sign', async () => {
    const server = await httpsReceiver(UNTRUSTED);
    const error = await failure(get(`https://127.0.0.1:${server.port}/`, agentFor(['127.0.0.1'])));
    expect(error).not.toBeInstanceOf(BlockedDestinationError);
    expect(error.code).toMatch(/CERT|UNABLE_TO_VERIFY|SELF_SIGNED/);
  });

  it('keeps trusting the public roots when an extra CA is given', () => {
    // Deliveries to public hosts must not break because an operator added a CA.
    expect(trustedCas(undefined)).toBeUndefined();
    expect(trustedCas(CA)).toEqual([...rootCertificates, CA]);
    expect(rootCertificates.length).toBeGreaterThan(100);
  });

  it('refuses plain http unless it is enabled, even for allow-listed hosts', async () => {
    const server = await listen(
      createHttpServer((_req, res) => res.end('plain')),
      '127.0.0.1',
    );
    const url = `http://127.0.0.1:${server.port}/`;
    const error = await failure(get(url, agentFor(['127.0.0.1'])));
    expect(error.code).toBe('blocked_destination');
    expect(server.connections()).toBe(0);
    expect(await get(url, agentFor(['127.0.0.1'], {}, true))).toEqual({
      status: 200,
      body: 'plain',
    });
  });

  it('bounds the connect phase, TLS handshake included', async () => {
    // Accepts TCP and never answers the TLS ClientHello.
    const server = await listen(
      createTcpServer(() => {}),
      '127.0.0.1',
    );
    const agent = agentFor(['127.0.0.1'], { ca: CA, connectTimeoutMs: 200 });
    const error = await failure(get(`https://127.0.0.1:${server.port}/`, agent));
    expect(error.code).toBe('UND_ERR_CONNECT_TIMEOUT');
  });
});
