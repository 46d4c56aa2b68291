/**
 * The delivery engine end to end: events → deliveries → a real HTTPS
 * receiver on loopback, with the worker driven pass by pass on a manual clock.
 */
import { createHmac } from 'node:crypto';
import { expect, it } from 'vitest';
import { forEachDialect } from './support/harness.js';
import { CA_FILE, useReceiver } from './support/receiver.js';
import { attemptsOf, createTicket, createWebhook, deliveriesOf } from './support/webhooks.js';
import { testWorker } from './support/worker.js';

const ENV = {
  HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
  HOOKDESK_EGRESS_CA_FILE: CA_FILE,
  HOOKDESK_DELIVERY_TIMEOUT_MS: '1500',
};

forEachDialect(
  'delivery engine',
  (h) => {
    const receiver = useReceiver();

    it('POSTs the exact body with the contract headers and a verifiable signature', async () => {
      receiver.respond = () => ({ status: 200, body: 'thanks' });
      const org = await h.createOrg();
      const secret = 'delivery-secret-0123456789abcdef';
      const hook = await createWebhook(h, org, {
        url: receiver.url('/exact'),
        events: ['ticket.created'],
        secret,
        headers: { 'X-Tenant': 'acme' },
      });
      const ticket = await createTicket(h, org);
      const worker = testWorker(h);
      const before = receiver.received.length;
      expect(await worker.runOnce()).toBe(1);
      const got = receiver.received.slice(before);
      expect(got).toHaveLength(1);
      const req = got[0]!;
      const [delivery] = await deliveriesOf(h, hook.id);
      // The body is stored once, on the event; the delivery keeps none of its own.
      expect(delivery!.payload).toBe('');
      const event = await h.db
        .selectFrom('events')
        .selectAll()
        .where('id', '=', delivery!.event_id)
        .executeTakeFirstOrThrow();
      expect(req.body.toString('utf8')).toBe(event.payload);
      const body = JSON.parse(req.body.toString('utf8'));
      expect(Object.keys(body)).toEqual([
        'organizationId',
        'eventType',
        'eventId',
        'timestamp',
        'data',
      ]);
      expect(body).toMatchObject({
        organizationId: org.organizationId,
        eventType: 'ticket.created',
        eventId: event.id,
      });
      expect(body.data.ticket.id).toBe(ticket.id);
      expect(req.headers['content-type']).toBe('application/json');
      expect(req.headers['x-webhook-event']).toBe('ticket.created');
      expect(req.headers['x-webhook-delivery']).toBe(delivery!.id);
      expect(req.headers['user-agent']).toMatch(/^Hookdesk\/\d+\.\d+\.\d+/);
      expect(req.headers['x-tenant']).toBe('acme');
      // An independent HMAC over the raw bytes received.
      const expected = 'sha256=' + createHmac('sha256', secret).update(req.body).digest('hex');
      expect(req.headers['x-webhook-signature']).toBe(expected);
      expect(delivery).toMatchObject({ status: 'succeeded', attempt_count: 1 });
      const [attempt] = await attemptsOf(h, delivery!.id);
      expect(attempt).toMatchObject({
        number: 1,
        status_code: 200,
        response_body: 'thanks',
        error_code: null,
      });
    });

    it('sends no signature without a secret, and nothing to unsubscribed or inactive webhooks', async () => {
      receiver.respond = () => ({ status: 204 });
      const org = await h.createOrg();
      const plain = await createWebhook(h, org, {
        url: receiver.url('/plain'),
        events: ['ticket.created'],
        secret: null,
      });
      const other = await createWebhook(h, org, {
        url: receiver.url('/other'),
        events: ['ticket.resolved'],
      });
      const inactive = await createWebhook(h, org, {
        url: receiver.url('/inactive'),
        events: ['ticket.created'],
        active: false,
      });
      const elsewhere = await h.createOrg();
      const foreign = await createWebhook(h, elsewhere, {
        url: receiver.url('/foreign'),
        events: ['ticket.created'],
      });
      await createTicket(h, org);
      const before = receiver.received.length;
      expect(await testWorker(h).runOnce()).toBe(1);
      const got = receiver.received.slice(before);
      expect(got.map((r) => r.path)).toEqual(['/plain']);
      expect(got[0]!.headers['x-webhook-signature']).toBeUndefined();
      for (const id of [other.id, inactive.id, foreign.id])
        expect(await deliveriesOf(h, id)).toEqual([]);
      expect((await deliveriesOf(h, plain.id))[0]!.status).toBe('succeeded');
    });

    it('retries 500, 500 then 200 on the policy schedule with one delivery id, ending succeeded', async () => {
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/flaky'),
        events: ['ticket.created'],
      });
      let calls = 0;
      receiver.respond = (r) =>
        r.path === '/flaky'
          ? { status: ++calls < 3 ? 500 : 200, body: `call ${calls}` }
          : { status: 200 };
      await createTicket(h, org);
      const worker = testWorker(h);
      const before = receiver.received.length;
      const t0 = h.clock.now();
      expect(await worker.runOnce()).toBe(1);
      let [d] = await deliveriesOf(h, hook.id);
      expect(d).toMatchObject({ status: 'pending', attempt_count: 1, next_attempt_at: t0 + 1_000 });
      h.clock.advance(999);
      expect(await worker.runOnce()).toBe(0); // not due yet
      h.clock.advance(1);
      expect(await worker.runOnce()).toBe(1);
      [d] = await deliveriesOf(h, hook.id);
      expect(d).toMatchObject({
        status: 'pending',
        attempt_count: 2,
        next_attempt_at: t0 + 1_000 + 5_000,
      });
      h.clock.advance(5_000);
      expect(await worker.runOnce()).toBe(1);
      [d] = await deliveriesOf(h, hook.id);
      expect(d).toMatchObject({ status: 'succeeded', attempt_count: 3, next_attempt_at: null });
      const got = receiver.received.slice(before).filter((r) => r.path === '/flaky');
      expect(got).toHaveLength(3);
      expect(new Set(got.map((r) => r.headers['x-webhook-delivery']))).toEqual(new Set([d!.id]));
      expect(new Set(got.map((r) => r.body.toString()))).toHaveProperty('size', 1);
      const attempts = await attemptsOf(h, d!.id);
      expect(attempts.map((a) => [a.number, a.status_code, a.response_body])).toEqual([
        [1, 500, 'call 1'],
        [2, 500, 'call 2'],
        [3, 200, 'call 3'],
      ]);
      const hookRow = await h.db
        .selectFrom('webhooks')
        .selectAll()
        .where('id', '=', hook.id)
        .executeTakeFirstOrThrow();
      expect(hookRow.consecutive_failures).toBe(0);
    });

    it('follows the default policy (1s, 5s, 30s, 5m, 30m, 2h) and fails after 7 attempts', async () => {
      receiver.respond = () => ({ status: 503 });
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/down'),
        events: ['ticket.created'],
      });
      await createTicket(h, org);
      const worker = testWorker(h);
      const gaps: number[] = [];
      let last = h.clock.now();
      expect(await worker.runOnce()).toBe(1);
      for (let i = 0; i < 6; i++) {
        const [d] = await deliveriesOf(h, hook.id);
        expect(d!.status).toBe('pending');
        gaps.push(d!.next_attempt_at! - last);
        h.clock.set(d!.next_attempt_at!);
        last = d!.next_attempt_at!;
        expect(await worker.runOnce()).toBe(1);
      }
      expect(gaps).toEqual([1_000, 5_000, 30_000, 300_000, 1_800_000, 7_200_000]);
      const [d] = await deliveriesOf(h, hook.id);
      expect(d).toMatchObject({ status: 'failed', attempt_count: 7, next_attempt_at: null });
      expect(d!.completed_at).toBe(h.clock.now());
      expect(await attemptsOf(h, d!.id)).toHaveLength(7);
      h.clock.advance(86_400_000);
      expect(await worker.runOnce()).toBe(0);
    });

    it('a custom policy of n delays gives 1 + n attempts; an empty policy gives one', async () => {
      receiver.respond = () => ({ status: 500 });
      const org = await h.createOrg();
      const two = await createWebhook(h, org, {
        url: receiver.url('/two'),
        events: ['ticket.created'],
        retryPolicy: [2, 3],
      });
      const none = await createWebhook(h, org, {
        url: receiver.url('/none'),
        events: ['ticket.created'],
        retryPolicy: [],
      });
      await createTicket(h, org);
      const worker = testWorker(h);
      for (let i = 0; i < 5; i++) {
        await worker.runOnce();
        h.clock.advance(3_000);
      }
      expect((await deliveriesOf(h, two.id))[0]).toMatchObject({
        status: 'failed',
        attempt_count: 3,
      });
      expect((await deliveriesOf(h, none.id))[0]).toMatchObject({
        status: 'failed',
        attempt_count: 1,
      });
    });
  },
  ENV,
);
