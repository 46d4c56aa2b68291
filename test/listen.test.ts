import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { signPayload as signFromSource } from '../src/delivery/signature.js';
import { signPayload, verifyWebhookSignature } from '../src/index.js';
import { freePort, runCli, startCli, stop, waitForOk } from './support/cli.js';

const SECRET = 'whsec_test_1234567890';
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
    expect(await res.json()).toEqual({ received: true });
    expect(await until(() => blockWith(l.output(), 'dlv-status') !== '')).toBe(true);
    const block = blockWith(l.output(), 'dlv-status');
    expect(block).toContain('signature: valid');
    expect(block).toContain('not json at all');
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
  });
});

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
