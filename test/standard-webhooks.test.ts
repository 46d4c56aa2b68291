/**
 * Standard Webhooks on every delivery (docs/webhooks.md, "The request" and
 * "Verifying signatures"): `webhook-id`, `webhook-timestamp` and
 * `webhook-signature` as received by a real HTTPS receiver on loopback,
 * checked with the third-party `standardwebhooks` verifier (which also holds
 * the timestamp to within 5 minutes of real time); signing with both secrets
 * while a rotated secret's overlap lasts, up to the exact expiry instant on
 * the injected clock; and `verifyWebhookSignature` with several values.
 */
import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { signPayload, verifyWebhookSignature } from '../src/index.js';
import { generateSecret } from '../src/webhooks/secrets.js';
import { freePort, startCli, stop, waitForOk } from './support/cli.js';
import { forEachDialect, type Harness, type Org } from './support/harness.js';
import { CA_FILE, useReceiver, type Received, type Receiver } from './support/receiver.js';
import { attemptsOf, createTicket, createWebhook, deliveriesOf } from './support/webhooks.js';
import { testWorker } from './support/worker.js';

const ENV = {
  HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
  HOOKDESK_EGRESS_CA_FILE: CA_FILE,
  HOOKDESK_DELIVERY_TIMEOUT_MS: '1500',
};

const PLAIN = 'plain-secret-0123456789';

/** The three Standard Webhooks headers as received, for a verifier. */
function standardHeaders(r: Received): Record<string, string> {
  return {
    'webhook-id': String(r.headers['webhook-id']),
    'webhook-timestamp': String(r.headers['webhook-timestamp']),
    'webhook-signature': String(r.headers['webhook-signature']),
  };
}

/** An independent `v1,` signature: the key is given as bytes, the content joined by hand. */
function v1(key: Buffer, r: Received): string {
  const content = Buffer.concat([
    Buffer.from(`${String(r.headers['webhook-id'])}.${String(r.headers['webhook-timestamp'])}.`),
    r.body,
  ]);
  return 'v1,' + createHmac('sha256', key).update(content).digest('base64');
}

const whsecKey = (secret: string) => Buffer.from(secret.slice('whsec_'.length), 'base64');

/** True when the `standardwebhooks` verifier accepts; false when it refuses with its own error. */
function accepts(wh: Webhook, body: Buffer, headers: Record<string, string>): boolean {
  try {
    wh.verify(body, headers);
    return true;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return false;
    throw error;
  }
}

/** One ticket event and one worker pass; the one request received at `path`. */
async function deliverOnce(h: Harness, org: Org, receiver: Receiver, path: string) {
  const before = receiver.received.length;
  await createTicket(h, org);
  expect(await testWorker(h).runOnce()).toBe(1);
  const got = receiver.received.slice(before);
  expect(got.map((r) => r.path)).toEqual([path]);
  return got[0]!;
}

async function setPrevious(h: Harness, webhookId: string, secret: string, expiresAt: number) {
  await h.db
    .updateTable('webhooks')
    .set({ previous_secret: secret, previous_secret_expires_at: expiresAt })
    .where('id', '=', webhookId)
    .execute();
}

forEachDialect(
  'Standard Webhooks headers',
  (h) => {
    const receiver = useReceiver();

    it('a whsec_ secret: standardwebhooks accepts the delivery, refuses a tampered body or another secret', async () => {
      receiver.respond = () => ({ status: 200 });
      const org = await h.createOrg();
      const secret = generateSecret();
      const hook = await createWebhook(h, org, { url: receiver.url('/whsec'), secret });
      const req = await deliverOnce(h, org, receiver, '/whsec');
      const [delivery] = await deliveriesOf(h, hook.id);
      const [attempt] = await attemptsOf(h, delivery!.id);

      expect(req.headers['webhook-id']).toBe(delivery!.id);
      expect(req.headers['webhook-id']).toBe(req.headers['x-webhook-delivery']);
      // The attempt's recorded start, in whole seconds (wall time, not the manual clock).
      expect(req.headers['webhook-timestamp']).toBe(String(Math.floor(attempt!.started_at / 1000)));
      expect(Math.abs(Number(req.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(
        60,
      );
      expect(req.headers['webhook-signature']).toBe(v1(whsecKey(secret), req));
      // The legacy header is unchanged: keyed by the secret's UTF-8 bytes, whsec_ included.
      expect(req.headers['x-webhook-signature']).toBe(
        'sha256=' + createHmac('sha256', Buffer.from(secret)).update(req.body).digest('hex'),
      );

      const headers = standardHeaders(req);
      // As docs/webhooks.md shows it: the raw body and Node's request headers as they are.
      const payload = new Webhook(secret).verify(
        req.body,
        req.headers as Record<string, string>,
      ) as Record<string, unknown>;
      expect(payload).toMatchObject({ eventType: 'ticket.created' });
      const tampered = Buffer.from(
        req.body.toString('utf8').replace('ticket.created', 'ticket.deleted'),
      );
      expect(tampered.equals(req.body)).toBe(false);
      expect(accepts(new Webhook(secret), tampered, headers)).toBe(false);
      expect(accepts(new Webhook(generateSecret()), req.body, headers)).toBe(false);
      // Another id or timestamp is another signed content.
      expect(accepts(new Webhook(secret), req.body, { ...headers, 'webhook-id': 'other' })).toBe(
        false,
      );
    });

    it('a plain secret: the key is its UTF-8 bytes (the raw-key form of the verifier)', async () => {
      receiver.respond = () => ({ status: 204 });
      for (const [path, secret] of [
        ['/plain', PLAIN],
        ['/plain-utf8', 'plain-sécret-ümlaut-0123'],
      ] as const) {
        const org = await h.createOrg();
        await createWebhook(h, org, { url: receiver.url(path), secret });
        const req = await deliverOnce(h, org, receiver, path);
        expect(req.headers['webhook-signature']).toBe(v1(Buffer.from(secret, 'utf8'), req));
        const raw = new Webhook(Buffer.from(secret, 'utf8'), { format: 'raw' });
        expect(accepts(raw, req.body, standardHeaders(req))).toBe(true);
        expect(
          verifyWebhookSignature(secret, req.body, String(req.headers['x-webhook-signature'])),
        ).toBe(true);
      }
    });

    it('a retry keeps webhook-id and gets a new timestamp and signature, both verifying', async () => {
      const org = await h.createOrg();
      const secret = generateSecret();
      const hook = await createWebhook(h, org, { url: receiver.url('/retry'), secret });
      let calls = 0;
      receiver.respond = (r) => ({ status: r.path === '/retry' && ++calls === 1 ? 500 : 200 });
      const first = await deliverOnce(h, org, receiver, '/retry');
      // webhook-timestamp is in whole seconds of real time: let one begin before the retry.
      const firstSecond = Number(first.headers['webhook-timestamp']);
      while (Math.floor(Date.now() / 1000) <= firstSecond)
        await new Promise((r) => setTimeout(r, 20));
      h.clock.advance(1_000); // the default policy's first delay
      const before = receiver.received.length;
      expect(await testWorker(h).runOnce()).toBe(1);
      const second = receiver.received.slice(before)[0]!;

      const [delivery] = await deliveriesOf(h, hook.id);
      expect(delivery).toMatchObject({ status: 'succeeded', attempt_count: 2 });
      const attempts = await attemptsOf(h, delivery!.id);
      expect(attempts.map((a) => a.status_code)).toEqual([500, 200]);
      expect(first.headers['webhook-id']).toBe(delivery!.id);
      expect(second.headers['webhook-id']).toBe(delivery!.id);
      expect(Number(second.headers['webhook-timestamp'])).toBeGreaterThan(firstSecond);
      attempts.forEach((a, i) =>
        expect([first, second][i]!.headers['webhook-timestamp']).toBe(
          String(Math.floor(a.started_at / 1000)),
        ),
      );
      expect(second.headers['webhook-signature']).not.toBe(first.headers['webhook-signature']);
      expect(second.body.equals(first.body)).toBe(true);
      // Same bytes, same key: the legacy signature does not change.
      expect(second.headers['x-webhook-signature']).toBe(first.headers['x-webhook-signature']);
      const wh = new Webhook(secret);
      expect(accepts(wh, first.body, standardHeaders(first))).toBe(true);
      expect(accepts(wh, second.body, standardHeaders(second))).toBe(true);
    });

    it('during a rotation overlap both secrets sign, new first; from the expiry instant only the new one', async () => {
      receiver.respond = () => ({ status: 200 });
      const org = await h.createOrg();
      const fresh = generateSecret();
      const old = PLAIN; // a plain previous secret: each value keeps its own key form
      const stranger = generateSecret();
      const hook = await createWebhook(h, org, { url: receiver.url('/rotated'), secret: fresh });
      const expiresAt = h.clock.now() + 24 * 3_600_000;
      await setPrevious(h, hook.id, old, expiresAt);

      const check = (req: Received, signers: string[]) => {
        const values = String(req.headers['webhook-signature']).split(' ');
        expect(values).toEqual(
          signers.map((s) => v1(s.startsWith('whsec_') ? whsecKey(s) : Buffer.from(s), req)),
        );
        expect(req.headers['x-webhook-signature']).toBe(
          signers.map((s) => signPayload(s, req.body)).join(', '),
        );
        const headers = standardHeaders(req);
        const legacy = String(req.headers['x-webhook-signature']);
        expect(accepts(new Webhook(fresh), req.body, headers)).toBe(true);
        expect(verifyWebhookSignature(fresh, req.body, legacy)).toBe(true);
        const oldVerifier = new Webhook(Buffer.from(old), { format: 'raw' });
        expect(accepts(oldVerifier, req.body, headers)).toBe(signers.includes(old));
        expect(verifyWebhookSignature(old, req.body, legacy)).toBe(signers.includes(old));
        expect(accepts(new Webhook(stranger), req.body, headers)).toBe(false);
        expect(verifyWebhookSignature(stranger, req.body, legacy)).toBe(false);
      };

      check(await deliverOnce(h, org, receiver, '/rotated'), [fresh, old]);

      // The test delivery signs the same way.
      const before = receiver.received.length;
      const test = await h.request({
        method: 'POST',
        url: `/api/webhooks/${hook.id}/test`,
        key: org.apiKey,
      });
      expect(test.statusCode, test.body).toBe(200);
      const [tested] = receiver.received.slice(before);
      expect(tested!.headers['webhook-id']).toBe(test.json().id);
      check(tested!, [fresh, old]);

      // The last millisecond of the overlap on the injected clock: still both.
      h.clock.set(expiresAt - 1);
      check(await deliverOnce(h, org, receiver, '/rotated'), [fresh, old]);
      // The expiry instant itself: only the new secret.
      h.clock.set(expiresAt);
      check(await deliverOnce(h, org, receiver, '/rotated'), [fresh]);
      h.clock.advance(3_600_000);
      check(await deliverOnce(h, org, receiver, '/rotated'), [fresh]);
    });

    it('an unsigned webhook gets webhook-id and webhook-timestamp, no signature', async () => {
      receiver.respond = () => ({ status: 200 });
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, { url: receiver.url('/unsigned'), secret: null });
      // A previous secret without a current one signs nothing.
      await setPrevious(h, hook.id, PLAIN, h.clock.now() + 60_000);
      const req = await deliverOnce(h, org, receiver, '/unsigned');
      expect(req.headers['webhook-id']).toBe(req.headers['x-webhook-delivery']);
      expect(req.headers['webhook-timestamp']).toMatch(/^\d{10}$/);
      expect(req.headers['webhook-signature']).toBeUndefined();
      expect(req.headers['x-webhook-signature']).toBeUndefined();
    });

    it('refuses custom headers named like the Standard Webhooks headers, in any case', async () => {
      const org = await h.createOrg();
      for (const name of ['webhook-id', 'Webhook-Timestamp', 'WEBHOOK-SIGNATURE']) {
        const res = await h.request({
          method: 'POST',
          url: '/api/webhooks',
          key: org.apiKey,
          payload: {
            name: 'hook',
            url: receiver.url('/custom'),
            events: ['ticket.created'],
            headers: { [name]: 'x' },
          },
        });
        expect(res.statusCode, name).toBe(400);
        expect(res.json().error.details[0].field).toBe(`headers.${name}`);
      }
    });

    it('never sends a stored custom header beside its own Standard Webhooks headers', async () => {
      receiver.respond = () => ({ status: 200 });
      const org = await h.createOrg();
      const secret = generateSecret();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/legacy-custom'),
        secret,
        headers: { 'X-Tenant': 'acme' },
      });
      // As a webhook stored before these names were reserved could hold.
      await h.db
        .updateTable('webhooks')
        .set({ headers: JSON.stringify({ 'X-Tenant': 'acme', 'Webhook-Id': 'mine' }) })
        .where('id', '=', hook.id)
        .execute();
      const req = await deliverOnce(h, org, receiver, '/legacy-custom');
      expect(req.headers['x-tenant']).toBe('acme');
      expect(req.headers['webhook-id']).toBe(req.headers['x-webhook-delivery']);
      expect(accepts(new Webhook(secret), req.body, standardHeaders(req))).toBe(true);
    });
  },
  ENV,
);

describe('verifyWebhookSignature with several values', () => {
  const body = '{"eventType":"ticket.created","n":1}';
  const [a, b, c] = ['secret-a-0123456789', 'secret-b-0123456789', 'secret-c-0123456789'];
  const sig = (s: string) => signPayload(s, body);
  const hex = (s: string) => sig(s).slice('sha256='.length);

  it('is true when any value matches, first or second; false when none does', () => {
    const both = `${sig(a)}, ${sig(b)}`;
    expect(verifyWebhookSignature(a, body, both)).toBe(true);
    expect(verifyWebhookSignature(b, body, both)).toBe(true);
    expect(verifyWebhookSignature(c, body, both)).toBe(false);
    expect(verifyWebhookSignature(a, Buffer.from(body), both)).toBe(true);
    expect(verifyWebhookSignature(a, body.replace('1', '2'), both)).toBe(false);
    // Separators as joined by other code: no space, more space; hex in any case.
    expect(verifyWebhookSignature(b, body, `${sig(a)},${sig(b)}`)).toBe(true);
    expect(verifyWebhookSignature(b, body, ` ${sig(a)} ,  ${sig(b)} `)).toBe(true);
    expect(verifyWebhookSignature(b, body, `${sig(a)}, sha256=${hex(b).toUpperCase()}`)).toBe(true);
    expect(verifyWebhookSignature(c, body, `${sig(a)}, ${sig(b)}, ${sig(c)}`)).toBe(true);
  });

  it('is false for a malformed header or any malformed piece', () => {
    const malformed: (string | undefined | null)[] = [
      undefined,
      null,
      '',
      ',',
      `${sig(a)},`,
      `, ${sig(a)}`,
      `${sig(a)},, ${sig(b)}`,
      `${sig(a)} ${sig(b)}`, // space-separated is webhook-signature's form, not this header's
      `${sig(a)}; ${sig(b)}`,
      `${sig(b)}, garbage`,
      `${sig(a)}, sha256=${hex(b).slice(1)}`,
      `${sig(a)}, sha256=${hex(b)}0`,
      `${sig(a)}, sha512=${hex(b)}`,
      `${sig(a)}, ${hex(b)}`,
      `v1,${Buffer.from(hex(a), 'hex').toString('base64')}`,
    ];
    for (const header of malformed)
      expect(verifyWebhookSignature(a, body, header), String(header)).toBe(false);
  });
});

describe('hookdesk listen with a rotated secret', () => {
  const running: ChildProcess[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => stop(c)));
  });

  it('says valid for a two-value X-Webhook-Signature holding its secret, either place', async () => {
    const [fresh, old, other] = ['fresh-secret-0123456789', PLAIN, 'other-secret-0123456789'];
    const port = await freePort();
    const child = startCli(['listen', '--port', String(port), '--secret', old], {});
    running.push(child);
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const base = `http://127.0.0.1:${port}`;
    expect(await waitForOk(`${base}/`, 20_000)).toBe(true);
    const body = '{"eventType":"ticket.created"}';
    const cases = [
      [
        'dlv-rotated',
        `${signPayload(fresh, body)}, ${signPayload(old, body)}`,
        'valid (X-Webhook-Signature)',
      ],
      ['dlv-stranger', `${signPayload(fresh, body)}, ${signPayload(other, body)}`, 'INVALID: '],
    ] as const;
    for (const [id, header] of cases) {
      const res = await fetch(`${base}/hooks`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-webhook-delivery': id,
          'x-webhook-signature': header,
        },
        body,
        signal: AbortSignal.timeout(5_000),
      });
      expect(res.status).toBe(200);
    }
    const deadline = Date.now() + 5_000;
    while (!stdout.includes('dlv-stranger') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 25));
    for (const [id, , verdict] of cases) {
      const block = stdout.split('\n\n').find((b) => b.includes(id)) ?? '';
      expect(block, stdout).toContain(`signature: ${verdict}`);
    }
  });
});
