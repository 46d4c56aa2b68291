import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseForwardTo } from '../src/cli/listen.js';
import { AttemptCounter, ATTEMPT_MEMORY } from '../src/cli/listen/attempts.js';
import {
  FORWARD_ANSWER_LIMIT_BYTES,
  forward,
  forwardedHeaders,
} from '../src/cli/listen/forward.js';
import {
  signPayload as signFromSource,
  standardSignatureHeader,
} from '../src/delivery/signature.js';
import { verifyStandardSignature } from '../src/delivery/standard-verify.js';
import { signPayload, verifyWebhookSignature } from '../src/index.js';
import { freePort, runCli, startCli, stop, waitForOk } from './support/cli.js';
import { forEachDialect } from './support/harness.js';
import { attemptsOf, createTicket, createWebhook, deliveriesOf } from './support/webhooks.js';
import { testWorker } from './support/worker.js';

const SECRET = 'whsec_test_1234567890';
/** A Standard Webhooks secret (base64 of 24 bytes): its `webhook-signature` key is the decoded bytes. */
const WHSEC = 'whsec_aG9va2Rlc2stdGVzdC1zZWNyZXQtMDEy';
const dir = mkdtempSync(join(tmpdir(), 'hookdesk-listen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Running {
  child: ChildProcess;
  base: string;
  output: () => string;
  errors: () => string;
}

const running: ChildProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => stop(c)));
});

/** Starts `hookdesk listen` on a free port, with a Hookdesk config that would not load. */
async function listen(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const port = await freePort();
  const child = startCli(['listen', '--port', String(port), ...args], {
    // Neither is read by `listen`; were they, the process would stop.
    PORT: 'eighty',
    DATABASE_URL: `sqlite:${join(dir, 'never.db')}`,
    ...env,
  });
  running.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const base = `http://127.0.0.1:${port}`;
  expect(await waitForOk(`${base}/`, 20_000), stderr).toBe(true);
  return { child, base, output: () => stdout, errors: () => stderr };
}

/** Polls until `predicate` holds or `timeoutMs` passes. */
async function until(predicate: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return predicate();
}

/** The complete printed block that mentions `marker`, or '' when none does (yet). */
function blockWith(output: string, marker: string): string {
  // Every block ends with a blank line, so the last piece is never a whole block.
  return (
    output
      .split('\n\n')
      .slice(0, -1)
      .find((b) => b.includes(marker)) ?? ''
  );
}

function post(
  base: string,
  body: string,
  headers: Record<string, string>,
  path = '/hooks',
): Promise<Response> {
  return fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    signal: AbortSignal.timeout(5_000),
  });
}

/** The printed blocks, complete ones only, in order. */
function blocks(output: string): string[] {
  return output.split('\n\n').slice(0, -1);
}

/** A request as the local app got it. */
interface AppRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface AppReply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

interface App {
  received: AppRequest[];
  url(path: string): string;
}

const apps: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

/** A real HTTP app on loopback standing for the developer's app behind `--forward-to`. */
async function startApp(reply: (req: AppRequest, index: number) => AppReply): Promise<App> {
  const received: AppRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const got = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      received.push(got);
      const r = reply(got, received.length - 1);
      res.writeHead(r.status, r.headers ?? {});
      res.end(r.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  apps.push({
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  });
  return { received, url: (path) => `http://127.0.0.1:${port}${path}` };
}

describe('hookdesk listen', () => {
  it('prints a signed delivery with its event, delivery id and `signature: valid`', async () => {
    const l = await listen(['--secret', SECRET]);
    const body = JSON.stringify({
      organizationId: 'org-1',
      eventType: 'ticket.created',
      eventId: 'evt-valid-1',
      timestamp: '2026-01-15T10:30:00.000Z',
      data: { ticket: { subject: 'Printer on fire' } },
    });
    const res = await post(l.base, body, {
      'x-webhook-event': 'ticket.created',
      'x-webhook-delivery': 'dlv-valid-1',
      'x-webhook-signature': signPayload(SECRET, body),
      'user-agent': 'Hookdesk/test',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true });
    expect(await until(() => blockWith(l.output(), 'dlv-valid-1').includes('Printer'))).toBe(true);
    const block = blockWith(l.output(), 'dlv-valid-1');
    expect(block).toContain('POST /hooks');
    expect(block).toContain('event: ticket.created');
    expect(block).toContain('delivery: dlv-valid-1');
    expect(block).toContain('signature: valid');
    expect(block).toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/);
    // Pretty-printed JSON body.
    expect(block).toContain('  "eventId": "evt-valid-1"');
    // Standalone: no database was created from DATABASE_URL.
    expect(existsSync(join(dir, 'never.db'))).toBe(false);
  });

  it('says INVALID for a tampered body and `none sent` without a header', async () => {
    const l = await listen(['--secret', SECRET]);
    const body = JSON.stringify({ eventType: 'ticket.created', eventId: 'evt-2', amount: 1 });
    const tampered = body.replace('"amount":1', '"amount":1000');
    const bad = await post(l.base, tampered, {
      'x-webhook-event': 'ticket.created',
      'x-webhook-delivery': 'dlv-tampered',
      'x-webhook-signature': signPayload(SECRET, body),
    });
    expect(bad.status).toBe(200);
    await bad.arrayBuffer();
    const none = await post(l.base, body, {
      'x-webhook-event': 'message.created',
      'x-webhook-delivery': 'dlv-unsigned',
    });
    expect(none.status).toBe(200);
    await none.arrayBuffer();
    expect(
      await until(
        () =>
          blockWith(l.output(), 'dlv-tampered') !== '' &&
          blockWith(l.output(), 'dlv-unsigned') !== '',
      ),
    ).toBe(true);
    expect(blockWith(l.output(), 'dlv-tampered')).toContain('signature: INVALID');
    expect(blockWith(l.output(), 'dlv-unsigned')).toContain('signature: none sent');
    expect(blockWith(l.output(), 'dlv-unsigned')).toContain('event: message.created');
  });

  it('takes the secret from HOOKDESK_LISTEN_SECRET, answers --status, prints raw text bodies', async () => {
    const l = await listen(['--status', '500'], { HOOKDESK_LISTEN_SECRET: SECRET });
    const body = 'not json at all';
    const res = await post(l.base, body, {
      'content-type': 'text/plain',
      'x-webhook-delivery': 'dlv-status',
      'x-webhook-signature': signPayload(SECRET, body),
    });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      received: true,
      simulated: 'failure',
      status: 500,
      note: 'hookdesk listen --status 500: answering 500 on purpose',
    });
    expect(await until(() => blockWith(l.output(), 'dlv-status') !== '')).toBe(true);
    const block = blockWith(l.output(), 'dlv-status');
    expect(block).toContain('signature: valid');
    expect(block).toContain('not json at all');
    expect(block).toContain('answered: 500 (a simulated failure, --status)');
  });

  it('without a secret does not check signatures, and answers 413 over 64 KiB', async () => {
    const l = await listen([]);
    const body = JSON.stringify({ eventId: 'evt-3' });
    const res = await post(l.base, body, {
      'x-webhook-delivery': 'dlv-nocheck',
      'x-webhook-signature': signPayload('whatever-secret', body),
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(await until(() => blockWith(l.output(), 'dlv-nocheck') !== '')).toBe(true);
    expect(blockWith(l.output(), 'dlv-nocheck')).toContain('signature: not checked (no --secret)');

    const big = await post(l.base, 'x'.repeat(64 * 1024 + 1), { 'x-webhook-delivery': 'dlv-big' });
    expect(big.status).toBe(413);
    await big.arrayBuffer();
    expect(await until(() => blockWith(l.output(), 'dlv-big').includes('413'))).toBe(true);
  });

  it('stops on SIGTERM', async () => {
    const l = await listen([]);
    running.splice(running.indexOf(l.child), 1);
    const closed = new Promise<number | null>((resolve) => l.child.once('close', resolve));
    l.child.kill('SIGTERM');
    const code = await Promise.race([
      closed,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000)),
    ]);
    if (code === 'timeout') await stop(l.child);
    expect(code).toBe(0);
  });

  it('rejects a bad --status and prints its help', async () => {
    const bad = await runCli(['listen', '--status', 'abc'], {}, 20_000);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--status');
    const help = await runCli(['listen', '--help'], {}, 20_000);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: hookdesk listen');
    expect(help.stdout).toContain('HOOKDESK_EGRESS_ALLOW_HTTP=true');
    expect(help.stdout).toContain('--forward-to <url>');
    expect(help.stdout).toContain('Attempt numbers are counted by this listener');
  });
});

describe('hookdesk listen: attempt numbers', () => {
  it('counts the attempts of each delivery id it saw, X-Webhook-Delivery or webhook-id', async () => {
    const l = await listen([]);
    const sends: Record<string, string>[] = [
      { 'x-webhook-delivery': 'dlv-a' },
      { 'x-webhook-delivery': 'dlv-a' },
      { 'x-webhook-delivery': 'dlv-b' },
      { 'webhook-id': 'dlv-a' }, // Standard Webhooks only: the same delivery
      {},
    ];
    for (const headers of sends) {
      const res = await post(l.base, '{}', headers);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    expect(await until(() => blocks(l.output()).length === sends.length)).toBe(true);
    const printed = blocks(l.output());
    const attempt = (b: string): string => /^attempt: (.*)$/m.exec(b)?.[1] ?? '';
    // The first-seen time is the first block's own time of day.
    const firstAt = /^--- \d{4}-\d{2}-\d{2}T(\S+)/.exec(printed[0]!)?.[1];
    expect(firstAt).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(printed.map(attempt)).toEqual([
      '1',
      `2 (retry 1; first seen by this listener ${firstAt})`,
      '1',
      `3 (retry 2; first seen by this listener ${firstAt})`,
      'not counted (no X-Webhook-Delivery or webhook-id header)',
    ]);
    expect(printed[2]).toContain('delivery: dlv-b');
  });

  it('remembers at most ATTEMPT_MEMORY ids, forgetting the one seen longest ago', () => {
    const small = new AttemptCounter(3);
    expect(small.record('a', 1)).toEqual({ attempt: 1, firstSeenAt: 1 });
    small.record('b', 2);
    small.record('c', 3);
    expect(small.record('a', 4)).toEqual({ attempt: 2, firstSeenAt: 1 }); // a is now the newest
    small.record('d', 5); // forgets b, seen longest ago
    expect(small.size).toBe(3);
    expect(small.record('b', 6)).toEqual({ attempt: 1, firstSeenAt: 6 }); // forgets c
    expect(small.record('a', 7)).toEqual({ attempt: 3, firstSeenAt: 1 });
    expect(small.record('c', 8)?.attempt).toBe(1);
    expect(small.record('x'.repeat(201), 9)).toBeNull();

    const full = new AttemptCounter();
    for (let i = 0; i <= ATTEMPT_MEMORY; i++) full.record(`id-${i}`, i);
    expect(full.size).toBe(ATTEMPT_MEMORY);
    expect(full.record('id-0', 0)?.attempt).toBe(1);
    expect(full.record(`id-${ATTEMPT_MEMORY}`, 0)?.attempt).toBe(2);
  });
});

describe('hookdesk listen --forward-to', () => {
  it('relays body bytes and headers unchanged, and answers with the app status and body', async () => {
    const app = await startApp(() => ({
      status: 201,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: 'ok '.repeat(2_000),
    }));
    const l = await listen(['--secret', WHSEC, '--forward-to', app.url('/app/webhooks?src=hd')]);
    const body = JSON.stringify({ eventId: 'evt-fwd', data: { subject: 'Café ☕' } });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const sent = {
      'content-type': 'application/json',
      'user-agent': 'Hookdesk/test',
      'x-webhook-event': 'ticket.created',
      'x-webhook-delivery': 'dlv-fwd',
      'x-webhook-signature': signPayload(WHSEC, body),
      'webhook-id': 'dlv-fwd',
      'webhook-timestamp': timestamp,
      'webhook-signature': standardSignatureHeader([WHSEC], 'dlv-fwd', timestamp, body),
      'x-tenant': 'acme', // a webhook's custom header
    };
    const res = await post(l.base, body, sent, '/hooks/not-appended?q=1');
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    // The app's body, capped.
    expect(await res.text()).toBe('ok '.repeat(2_000).slice(0, FORWARD_ANSWER_LIMIT_BYTES));

    expect(app.received).toHaveLength(1);
    const got = app.received[0]!;
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/app/webhooks?src=hd');
    expect(got.body.equals(Buffer.from(body, 'utf8'))).toBe(true);
    for (const [name, value] of Object.entries(sent)) expect(got.headers[name], name).toBe(value);
    expect(got.headers.host).toBe(new URL(app.url('/')).host);
    expect(got.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    // fetch sent `accept-encoding: gzip, deflate`; the app's answer must come back as plain bytes.
    expect(got.headers['accept-encoding']).toBeUndefined();
    // What the app can check itself.
    expect(
      verifyWebhookSignature(WHSEC, got.body, String(got.headers['x-webhook-signature'])),
    ).toBe(true);

    expect(await until(() => blockWith(l.output(), 'dlv-fwd').includes('forward:'))).toBe(true);
    const block = blockWith(l.output(), 'dlv-fwd');
    expect(block).toContain('POST /hooks/not-appended?q=1');
    expect(block).toContain('signature: valid (X-Webhook-Signature, webhook-signature)');
    expect(block).toMatch(
      /forward: sent to http:\/\/127\.0\.0\.1:\d+\/app\/webhooks\?src=hd; it answered 201 in \d+ ms: ok ok /,
    );
  });

  it('without --secret forwards unchecked, even bytes that are not UTF-8', async () => {
    const app = await startApp((_req, i) =>
      i === 0
        ? { status: 202, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' }
        : { status: 204 },
    );
    const l = await listen(['--forward-to', app.url('/in')]);
    const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x0a, 0xe2, 0x82, 0x7d]);
    const res = await fetch(`${l.base}/hooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'x-webhook-delivery': 'dlv-raw' },
      body: bytes,
      signal: AbortSignal.timeout(5_000),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ ok: true });
    expect(app.received).toHaveLength(1);
    expect(app.received[0]!.body.equals(bytes)).toBe(true);
    expect(await until(() => blockWith(l.output(), 'dlv-raw').includes('forward:'))).toBe(true);
    const block = blockWith(l.output(), 'dlv-raw');
    expect(block).toContain('signature: not checked (no --secret)');
    expect(block).toContain('without a signature check (no --secret); it answered 202');
    // A status without a body is relayed without one.
    const empty = await post(l.base, '{}', { 'x-webhook-delivery': 'dlv-204' });
    expect(empty.status).toBe(204);
    expect(await empty.text()).toBe('');
    expect(app.received).toHaveLength(2);
  });

  it('with --secret does not forward a missing or INVALID signature, and answers 400', async () => {
    const app = await startApp(() => ({ status: 200, body: 'app' }));
    const l = await listen(['--secret', WHSEC, '--forward-to', app.url('/in')]);
    const body = JSON.stringify({ eventId: 'evt-bad', amount: 1 });
    const tampered = body.replace('"amount":1', '"amount":1000');
    const ts = String(Math.floor(Date.now() / 1000));
    const cases: [string, Record<string, string>, string, string][] = [
      [
        'dlv-bad-x',
        { 'x-webhook-signature': signPayload(WHSEC, body) },
        'invalid_signature',
        'X-Webhook-Signature does not match',
      ],
      [
        'dlv-bad-std',
        {
          'webhook-id': 'dlv-bad-std',
          'webhook-timestamp': ts,
          'webhook-signature': standardSignatureHeader([WHSEC], 'dlv-bad-std', ts, body),
        },
        'invalid_signature',
        'webhook-signature does not match',
      ],
      ['dlv-bad-none', {}, 'signature_missing', 'no X-Webhook-Signature or webhook-signature'],
    ];
    for (const [id, headers, error, detail] of cases) {
      const res = await post(l.base, tampered, { 'x-webhook-delivery': id, ...headers });
      expect(res.status, id).toBe(400);
      const answer = (await res.json()) as Record<string, unknown>;
      expect(answer, id).toMatchObject({ received: true, forwarded: false, error });
      expect(String(answer.detail), id).toContain(detail);
    }
    expect(app.received).toHaveLength(0);
    // The same listener does forward a good one, so the app was reachable all along.
    const good = await post(l.base, body, {
      'x-webhook-delivery': 'dlv-good',
      'x-webhook-signature': signPayload(WHSEC, body),
    });
    expect(good.status).toBe(200);
    expect(await good.text()).toBe('app');
    expect(app.received).toHaveLength(1);

    expect(await until(() => blockWith(l.output(), 'dlv-bad-none') !== '')).toBe(true);
    const bad = blockWith(l.output(), 'dlv-bad-x');
    expect(bad).toContain('signature: INVALID: X-Webhook-Signature does not match');
    expect(bad).toMatch(/forward: not forwarded to \S+ \(invalid_signature\); answered 400/);
    expect(blockWith(l.output(), 'dlv-bad-none')).toContain('(signature_missing); answered 400');
  });

  it('answers 502 when the app cannot be reached', async () => {
    const port = await freePort(); // nothing listens there
    const l = await listen(['--forward-to', `http://127.0.0.1:${port}/in`]);
    const res = await post(l.base, '{}', { 'x-webhook-delivery': 'dlv-down' });
    expect(res.status).toBe(502);
    const answer = (await res.json()) as Record<string, unknown>;
    expect(answer).toMatchObject({ received: true, forwarded: false, error: 'app_unreachable' });
    expect(String(answer.detail)).toContain(`127.0.0.1:${port}`);
    expect(await until(() => blockWith(l.output(), 'dlv-down').includes('answered 502'))).toBe(
      true,
    );
  });

  it('gives up on an app that does not answer in time', async () => {
    const hanging = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const url = new URL(`http://127.0.0.1:${(hanging.address() as AddressInfo).port}/slow`);
      const started = Date.now();
      const result = await forward(url, 'POST', [], Buffer.from('{}'), 300);
      expect(result).toMatchObject({ ok: false, error: 'app_timeout' });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    }
  });

  it('forwards end-to-end headers only', () => {
    const raw = [
      ...['Host', 'listener:4000', 'Content-Length', '2', 'Connection', 'keep-alive, X-Drop'],
      ...['X-Drop', '1', 'Transfer-Encoding', 'chunked', 'Accept-Encoding', 'gzip'],
      ...['Keep-Alive', 'timeout=5', 'Expect', '100-continue'],
      ...[
        'X-Webhook-Event',
        'ticket.created',
        'webhook-id',
        'd1',
        'X-Tenant',
        'a',
        'X-Tenant',
        'b',
      ],
    ];
    expect(forwardedHeaders(raw)).toEqual([
      ...[
        'X-Webhook-Event',
        'ticket.created',
        'webhook-id',
        'd1',
        'X-Tenant',
        'a',
        'X-Tenant',
        'b',
      ],
    ]);
  });

  it('refuses a bad --forward-to, --status with it, and forwarding to itself', async () => {
    for (const url of ['ftp://127.0.0.1/in', 'localhost:3000/hooks', 'not a url', '']) {
      expect(() => parseForwardTo(url), url).toThrow(InvalidArgumentError);
      expect(() => parseForwardTo(url), url).toThrow('expected an http:// or https:// URL');
    }
    expect(() => parseForwardTo('http://user:pw@127.0.0.1/in')).toThrow(InvalidArgumentError);
    expect(parseForwardTo('https://127.0.0.1:3000/in?x=1').href).toBe(
      'https://127.0.0.1:3000/in?x=1',
    );
    const bad = await runCli(['listen', '--forward-to', 'localhost:3000/hooks'], {}, 20_000);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--forward-to');
    expect(bad.stderr).toContain('expected an http:// or https:// URL');
    const both = await runCli(
      ['listen', '--status', '500', '--forward-to', 'http://127.0.0.1:3000/in'],
      {},
      20_000,
    );
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('cannot be used with');
    const port = await freePort();
    const self = await runCli(
      ['listen', '--port', String(port), '--forward-to', `http://localhost:${port}/in`],
      {},
      20_000,
    );
    expect(self.code).toBe(1);
    expect(self.stderr).toContain('is this listener itself');
  });
});

describe('verifyStandardSignature', () => {
  const body = '{"eventType":"ticket.created","eventId":"e1","data":{"subject":"Café"}}';
  const id = 'dlv-std-1';
  const ts = '1768473000';
  // Computed here as the Standard Webhooks specification says, not through Hookdesk's signer.
  const mac = (key: Buffer, b: string | Buffer = body, t = ts): string =>
    createHmac('sha256', key).update(`${id}.${t}.`).update(b).digest('base64');
  const whsecKey = Buffer.from(WHSEC.slice('whsec_'.length), 'base64');

  it('accepts an independently computed v1 signature, one of several', () => {
    expect(verifyStandardSignature(WHSEC, id, ts, body, `v1,${mac(whsecKey)}`)).toBe(true);
    expect(verifyStandardSignature(WHSEC, id, ts, Buffer.from(body), `v1,${mac(whsecKey)}`)).toBe(
      true,
    );
    const rotated = `v1,${mac(Buffer.from('old-secret-0123456789'))} v1,${mac(whsecKey)}`;
    expect(verifyStandardSignature(WHSEC, id, ts, body, rotated)).toBe(true);
    // A plain secret keys with its UTF-8 bytes.
    const plain = 'plain-secret-0123456789';
    expect(verifyStandardSignature(plain, id, ts, body, `v1,${mac(Buffer.from(plain))}`)).toBe(
      true,
    );
  });

  it('rejects other bodies, timestamps, versions and malformed values', () => {
    const good = mac(whsecKey);
    expect(verifyStandardSignature(WHSEC, id, ts, body + ' ', `v1,${good}`)).toBe(false);
    expect(verifyStandardSignature(WHSEC, id, '1768473001', body, `v1,${good}`)).toBe(false);
    expect(verifyStandardSignature(WHSEC, 'dlv-other', ts, body, `v1,${good}`)).toBe(false);
    for (const header of [undefined, null, '', good, `v1a,${good}`, `v2,${good}`, `v1,${good}!`])
      expect(verifyStandardSignature(WHSEC, id, ts, body, header), String(header)).toBe(false);
    // Bytes that are not UTF-8 are not what Hookdesk signs, whatever their MAC.
    const raw = Buffer.from([0x7b, 0xff, 0x7d]);
    expect(verifyStandardSignature(WHSEC, id, ts, raw, `v1,${mac(whsecKey, raw)}`)).toBe(false);
  });
});

forEachDialect(
  'hookdesk listen --forward-to, delivered by Hookdesk',
  (h) => {
    it('relays each attempt of a real delivery; the delivery log shows what the app answered', async () => {
      const app = await startApp((_req, i) =>
        i === 0 ? { status: 503, body: 'app warming up' } : { status: 200, body: 'app ok' },
      );
      const l = await listen(['--secret', WHSEC, '--forward-to', app.url('/app/webhooks')]);
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: `${l.base}/hooks`,
        events: ['ticket.created'],
        secret: WHSEC,
      });
      await createTicket(h, org);
      const worker = testWorker(h);
      expect(await worker.runOnce()).toBe(1);
      let [d] = await deliveriesOf(h, hook.id);
      expect(d).toMatchObject({ status: 'pending', attempt_count: 1 });
      h.clock.advance(d!.next_attempt_at! - h.clock.now());
      expect(await worker.runOnce()).toBe(1);
      [d] = await deliveriesOf(h, hook.id);
      expect(d).toMatchObject({ status: 'succeeded', attempt_count: 2 });

      const attempts = await attemptsOf(h, d!.id);
      expect(attempts.map((a) => [a.status_code, a.response_body])).toEqual([
        [503, 'app warming up'],
        [200, 'app ok'],
      ]);
      expect(app.received).toHaveLength(2);
      for (const got of app.received) {
        expect(got.url).toBe('/app/webhooks');
        expect(got.headers['x-webhook-delivery']).toBe(d!.id);
        expect(
          verifyWebhookSignature(WHSEC, got.body, String(got.headers['x-webhook-signature'])),
        ).toBe(true);
        expect(
          verifyStandardSignature(
            WHSEC,
            String(got.headers['webhook-id']),
            String(got.headers['webhook-timestamp']),
            got.body,
            String(got.headers['webhook-signature']),
          ),
        ).toBe(true);
      }
      expect(app.received[1]!.body.equals(app.received[0]!.body)).toBe(true);

      expect(await until(() => blocks(l.output()).length === 2)).toBe(true);
      const [first, second] = blocks(l.output());
      for (const b of [first, second]) {
        expect(b).toContain(`delivery: ${d!.id}`);
        expect(b).toContain('signature: valid (X-Webhook-Signature, webhook-signature)');
      }
      expect(first).toContain('attempt: 1\n');
      expect(first).toMatch(/it answered 503 in \d+ ms: app warming up/);
      expect(second).toContain('attempt: 2 (retry 1; first seen by this listener ');
      expect(second).toMatch(/it answered 200 in \d+ ms: app ok/);
    });
  },
  { HOOKDESK_EGRESS_ALLOW: '127.0.0.1', HOOKDESK_EGRESS_ALLOW_HTTP: 'true' },
);

describe('verifyWebhookSignature (package entry)', () => {
  const body = '{"eventType":"ticket.created","eventId":"e1","data":{"n":1}}';
  const hex = createHmac('sha256', SECRET).update(body).digest('hex');

  it('equals an independently computed HMAC-SHA256', () => {
    expect(signPayload(SECRET, body)).toBe(`sha256=${hex}`);
    expect(signPayload(SECRET, body)).toBe(signFromSource(SECRET, body));
    expect(verifyWebhookSignature(SECRET, body, `sha256=${hex}`)).toBe(true);
  });

  it('accepts string and Buffer bodies alike, including non-ASCII bytes', () => {
    const text = '{"subject":"Café ☕"}';
    const sig = 'sha256=' + createHmac('sha256', SECRET).update(Buffer.from(text)).digest('hex');
    expect(verifyWebhookSignature(SECRET, text, sig)).toBe(true);
    expect(verifyWebhookSignature(SECRET, Buffer.from(text, 'utf8'), sig)).toBe(true);
    expect(signPayload(SECRET, Buffer.from(text))).toBe(sig);
    // The same text in another encoding is other bytes.
    expect(verifyWebhookSignature(SECRET, Buffer.from(text, 'latin1'), sig)).toBe(false);
  });

  it('rejects a wrong secret and a tampered body', () => {
    expect(verifyWebhookSignature('whsec_other_secret_000', body, `sha256=${hex}`)).toBe(false);
    expect(verifyWebhookSignature(SECRET, body.replace('"n":1', '"n":2'), `sha256=${hex}`)).toBe(
      false,
    );
    // Re-serialized JSON is not the raw body.
    const pretty = JSON.stringify(JSON.parse(body), null, 2);
    expect(verifyWebhookSignature(SECRET, pretty, `sha256=${hex}`)).toBe(false);
  });

  it('rejects malformed headers and accepts uppercase hex', () => {
    for (const header of [
      undefined,
      null,
      '',
      hex, // no prefix
      `sha1=${hex}`,
      `SHA256 ${hex}`,
      `sha256=${hex.slice(0, 62)}`, // too short
      `sha256=${hex}00`, // too long
      `sha256=${hex.slice(0, 63)}g`, // not hex
      `sha256=${hex}, sha256=`, // one value of two malformed
      'sha256=',
    ]) {
      expect(verifyWebhookSignature(SECRET, body, header), String(header)).toBe(false);
    }
    expect(verifyWebhookSignature(SECRET, body, `sha256=${hex.toUpperCase()}`)).toBe(true);
    expect(verifyWebhookSignature(SECRET, body, ` sha256=${hex} `)).toBe(true);
    // Two values while a rotated secret's overlap lasts (test/standard-webhooks.test.ts has more).
    expect(verifyWebhookSignature(SECRET, body, `sha256=${'0'.repeat(64)}, sha256=${hex}`)).toBe(
      true,
    );
  });
});
