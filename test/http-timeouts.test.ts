import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { checkingIntervalMs } from '../src/http/connections.js';
import { freePort, stop, waitForOk } from './support/cli.js';
import { CHANNEL_ENV, createChannel, pathOf } from './support/channels.js';
import { forEachDialect, type Harness } from './support/harness.js';
import { HookdeskProcess } from './support/processes.js';
import { parseResponses, slowRequest } from './support/slow-client.js';

const REQUEST_TIMEOUT_MS = 1000;
const HEADERS_TIMEOUT_MS = 500;
const KEEP_ALIVE_TIMEOUT_MS = 1000;
/** Node checks expiry on an interval and closes idle kept-alive sockets 1 s after the advertised time. */
const SLACK_MS = 1500;

describe('connection settings', () => {
  it('has documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 72_000,
      connectionTimeoutMs: 120_000,
    });
    expect(checkingIntervalMs(config)).toBe(1000);
    // The idle timeout outlasts a test delivery, which the client waits for in silence.
    expect(loadConfig({ HOOKDESK_DELIVERY_TIMEOUT_MS: '300000' }).connectionTimeoutMs).toBe(
      330_000,
    );
    // A short request timeout brings the headers timeout down with it.
    expect(loadConfig({ HOOKDESK_REQUEST_TIMEOUT_MS: '5000' }).headersTimeoutMs).toBe(5000);
  });

  it('refuses inconsistent or malformed values, naming the variable', () => {
    const refused = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).variable;
      }
      return 'accepted';
    };
    expect(
      refused({ HOOKDESK_REQUEST_TIMEOUT_MS: '1000', HOOKDESK_HEADERS_TIMEOUT_MS: '2000' }),
    ).toBe('HOOKDESK_HEADERS_TIMEOUT_MS');
    expect(refused({ HOOKDESK_REQUEST_TIMEOUT_MS: '0' })).toBe('HOOKDESK_REQUEST_TIMEOUT_MS');
    expect(refused({ HOOKDESK_REQUEST_TIMEOUT_MS: '30s' })).toBe('HOOKDESK_REQUEST_TIMEOUT_MS');
    expect(refused({ HOOKDESK_KEEP_ALIVE_TIMEOUT_MS: '-1' })).toBe(
      'HOOKDESK_KEEP_ALIVE_TIMEOUT_MS',
    );
    expect(
      refused({ HOOKDESK_DELIVERY_TIMEOUT_MS: '60000', HOOKDESK_CONNECTION_TIMEOUT_MS: '60000' }),
    ).toBe('HOOKDESK_CONNECTION_TIMEOUT_MS');
  });
});

/** Where the harness's app listens for real, on loopback. */
function listening(h: Harness): () => number {
  let port = 0;
  beforeAll(async () => {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    port = (h.app.server.address() as AddressInfo).port;
  });
  return () => port;
}

const post = (path: string, length: number, extra = '', type = 'application/json') =>
  `POST ${path} HTTP/1.1\r\nHost: hookdesk.test\r\nContent-Type: ${type}\r\n` +
  `Content-Length: ${length}\r\n${extra}\r\n`;

/** A JSON body of exactly `length` bytes, sent a byte at a time. */
const bytes = (length: number) => [...`{"x":"${'a'.repeat(length - 8)}"}`];

forEachDialect(
  'HTTP timeouts on a listening server',
  (h) => {
    const port = listening(h);

    it('answers 408 in the error format and closes a request whose body trickles in', async () => {
      // Public endpoints that read the body: inbound email, and a provider
      // callback to a real channel (the signature covers the body).
      const channel = await createChannel(h, await h.createOrg(), {
        type: 'twilio_sms',
        credentials: {
          accountSid: `AC${'0a'.repeat(16)}`,
          authToken: 'f3c0ffee0ddba11f3c0ffee0ddba11aa',
          phoneNumber: '+14155550100',
        },
      });
      const form = 'application/x-www-form-urlencoded';
      for (const [path, extra, type] of [
        ['/api/rpc/tickets/email/inbound', '', 'application/json'],
        [pathOf(channel.callbackUrls.inbound!), 'X-Twilio-Signature: c2lnbmF0dXJl\r\n', form],
      ] as const) {
        const length = 200;
        const result = await slowRequest({
          port: port(),
          head: post(path, length, extra, type),
          trickle: bytes(length),
          intervalMs: 50,
          giveUpAfterMs: REQUEST_TIMEOUT_MS + SLACK_MS + 2000,
        });
        expect(result.closedByServer, `${path}: still open after ${result.elapsedMs} ms`).toBe(
          true,
        );
        expect(result.elapsedMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
        expect(result.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
        expect(result.trickled).toBeLessThan(length);
        const responses = parseResponses(result.received);
        expect(responses, result.received).toHaveLength(1);
        const [answer] = responses;
        expect(answer!.status).toBe(408);
        expect(answer!.headers.connection).toBe('close');
        expect(JSON.parse(answer!.body)).toEqual({
          error: {
            code: 'request_timeout',
            message: 'The request was not received in time.',
            details: [],
          },
        });
      }
    });

    it('answers 408 to headers that trickle in, after the headers timeout', async () => {
      const result = await slowRequest({
        port: port(),
        head: 'GET /healthz HTTP/1.1\r\nHost: hookdesk.test\r\n',
        trickle: Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: ${i}\r\n`),
        intervalMs: 50,
        giveUpAfterMs: 5000,
      });
      expect(result.closedByServer).toBe(true);
      expect(result.elapsedMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
      expect(result.elapsedMs).toBeLessThan(HEADERS_TIMEOUT_MS + SLACK_MS);
      const [answer] = parseResponses(result.received);
      expect(answer!.status).toBe(408);
      expect(JSON.parse(answer!.body).error.code).toBe('request_timeout');
    });

    it('after an early answer, closes the connection at the timeout without a second answer', async () => {
      // No API key: refused before the body is read, while the client keeps sending it.
      const length = 200;
      const result = await slowRequest({
        port: port(),
        head: post('/api/tickets', length),
        trickle: bytes(length),
        intervalMs: 50,
        giveUpAfterMs: REQUEST_TIMEOUT_MS + SLACK_MS + 2000,
      });
      expect(result.closedByServer, `still open after ${result.elapsedMs} ms`).toBe(true);
      expect(result.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
      const responses = parseResponses(result.received);
      expect(responses.map((r) => r.status)).toEqual([401]);
      expect(JSON.parse(responses[0]!.body).error.code).toBe('unauthorized');
    });

    it('answers what the HTTP parser refuses in the error format too, and closes', async () => {
      const exchange = (head: string) =>
        slowRequest({ port: port(), head, trickle: [], intervalMs: 50, giveUpAfterMs: 5000 });
      const garbage = await exchange('NOT HTTP AT ALL\r\n\r\n');
      const hugeHeader = await exchange(
        `GET /healthz HTTP/1.1\r\nHost: hookdesk.test\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      );
      for (const [result, status, code] of [
        [garbage, 400, 'validation_failed'],
        [hugeHeader, 431, 'headers_too_large'],
      ] as const) {
        expect(result.closedByServer).toBe(true);
        const responses = parseResponses(result.received);
        expect(responses.map((r) => r.status)).toEqual([status]);
        expect(responses[0]!.headers.connection).toBe('close');
        expect(JSON.parse(responses[0]!.body).error.code).toBe(code);
      }
    });

    it('closes an idle kept-alive connection after the keep-alive timeout', async () => {
      const result = await slowRequest({
        port: port(),
        head: 'GET /healthz HTTP/1.1\r\nHost: hookdesk.test\r\n\r\n',
        trickle: [],
        intervalMs: 50,
        giveUpAfterMs: 6000,
      });
      expect(result.closedByServer, `still open after ${result.elapsedMs} ms`).toBe(true);
      expect(result.elapsedMs).toBeLessThan(KEEP_ALIVE_TIMEOUT_MS + 1000 + SLACK_MS);
      const responses = parseResponses(result.received);
      expect(responses.map((r) => r.status)).toEqual([200]);
      expect(responses[0]!.headers['keep-alive']).toBe('timeout=1');
    });

    it('stays healthy: 30 slow clients are all cut, and requests at a normal pace succeed', async () => {
      const length = 100;
      const slow = Array.from({ length: 30 }, () =>
        slowRequest({
          port: port(),
          head: post('/api/rpc/tickets/email/inbound', length),
          trickle: bytes(length),
          intervalMs: 100,
          giveUpAfterMs: REQUEST_TIMEOUT_MS + SLACK_MS + 2000,
        }),
      );
      // While they trickle: a body sent in three pieces well within the timeout is answered.
      const org = await h.createOrg();
      const body = JSON.stringify({
        organizationId: org.organizationId,
        from: 'Pat Doe <pat@example.com>',
        to: 'support@acme.test',
        subject: 'Slow but fine',
        text: 'Sent in pieces.',
      });
      const third = Math.ceil(body.length / 3);
      const paced = await slowRequest({
        port: port(),
        head: post('/api/rpc/tickets/email/inbound', body.length, 'Connection: close\r\n'),
        trickle: [body.slice(0, third), body.slice(third, 2 * third), body.slice(2 * third)],
        intervalMs: 100,
        giveUpAfterMs: 5000,
      });
      const [answer] = parseResponses(paced.received);
      expect(answer!.status, paced.received).toBe(200);
      expect(JSON.parse(answer!.body).ticketId).toEqual(expect.any(String));

      const results = await Promise.all(slow);
      expect(results.filter((r) => !r.closedByServer)).toEqual([]);
      expect(results.map((r) => parseResponses(r.received)[0]?.status)).toEqual(
        results.map(() => 408),
      );
      const health = await fetch(`http://127.0.0.1:${port()}/readyz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ready' });
    });
  },
  {
    ...CHANNEL_ENV,
    HOOKDESK_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    HOOKDESK_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    HOOKDESK_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS),
  },
);

forEachDialect('HTTP timeouts of a `hookdesk api` process', (h) => {
  let api: HookdeskProcess | undefined;
  let port = 0;
  beforeAll(async () => {
    port = await freePort();
    api = new HookdeskProcess('api', ['api'], {
      DATABASE_URL: h.databaseUrl,
      HOST: '127.0.0.1',
      PORT: String(port),
      HOOKDESK_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      HOOKDESK_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    });
    expect(await waitForOk(`http://127.0.0.1:${port}/healthz`), api.describe()).toBe(true);
  });
  afterAll(async () => {
    if (api) await stop(api.child);
  });

  it('reads its timeouts from the environment, cuts a slow body with 408 and keeps serving', async () => {
    const length = 200;
    const result = await slowRequest({
      port,
      head: post('/api/rpc/tickets/email/inbound', length),
      trickle: bytes(length),
      intervalMs: 50,
      giveUpAfterMs: REQUEST_TIMEOUT_MS + SLACK_MS + 2000,
    });
    expect(result.closedByServer, `still open after ${result.elapsedMs} ms`).toBe(true);
    expect(result.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
    const [answer] = parseResponses(result.received);
    expect(answer!.status).toBe(408);
    expect(JSON.parse(answer!.body).error.code).toBe('request_timeout');
    expect(api!.running, api!.describe()).toBe(true);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
  });
});
