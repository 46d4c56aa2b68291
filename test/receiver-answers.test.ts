/**
 * What the receiver's answer means beyond success or failure, through the
 * real worker and a real HTTPS receiver: a `Retry-After` on 429 or 503
 * pushes the next attempt back, and `410 Gone` disables the webhook at once
 * (its pending work cancelled, every admin told by notification and email).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  addAdmin,
  addAgent,
  disabledMailJobs,
  firstAdminEmail,
  jobRunner,
  notificationsOf,
  webhookRow,
} from './support/disabled-webhooks.js';
import { drain, parseMail } from './support/email.js';
import { forEachDialect } from './support/harness.js';
import { CA_FILE, Receiver } from './support/receiver.js';
import { MailCatcher } from './support/smtp.js';
import {
  attemptsOf,
  createTicket,
  createWebhook,
  deliveriesOf,
  emitTicketEvents,
  insertDelivery,
} from './support/webhooks.js';
import { testWorker } from './support/worker.js';

const ENV = {
  HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
  HOOKDESK_EGRESS_CA_FILE: CA_FILE,
  HOOKDESK_DELIVERY_TIMEOUT_MS: '2000',
};

forEachDialect(
  'receiver answers',
  (h) => {
    const receiver = new Receiver();
    const mail = new MailCatcher();
    beforeAll(async () => {
      await Promise.all([receiver.start(), mail.start()]);
    });
    afterAll(async () => {
      await Promise.all([receiver.close(), mail.close()]);
    });

    /** A webhook at `path` on the default policy (first retry after 1 s) with one delivery due. */
    async function oneDelivery(path: string) {
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, { url: receiver.url(path) });
      await createTicket(h, org);
      return { org, hook };
    }

    it('429 with Retry-After: 120 retries 120 s later, not after the policy’s 1 s', async () => {
      let calls = 0;
      receiver.respond = (r) =>
        r.path === '/busy'
          ? ++calls === 1
            ? { status: 429, headers: { 'Retry-After': '120' }, body: 'slow down' }
            : { status: 200 }
          : { status: 200 };
      const { org, hook } = await oneDelivery('/busy');
      const worker = testWorker(h);
      const t0 = h.clock.now();
      expect(await worker.runOnce()).toBe(1);
      let [d] = await deliveriesOf(h, hook.id);
      expect(d).toMatchObject({
        status: 'pending',
        attempt_count: 1,
        next_attempt_at: t0 + 120_000,
      });
      const [a] = await attemptsOf(h, d!.id);
      expect(a).toMatchObject({ number: 1, status_code: 429, error_code: null });
      expect(JSON.parse(a!.response_headers!)).toMatchObject({ 'retry-after': '120' });
      expect(await webhookRow(h, hook.id)).toMatchObject({ active: 1, consecutive_failures: 1 });

      // What the console reads: the attempt's status and headers, the delivery's next time.
      const detail = await h.request({
        method: 'GET',
        url: `/api/webhooks/${hook.id}/deliveries/${d!.id}`,
        key: org.apiKey,
      });
      expect(detail.json()).toMatchObject({
        status: 'pending',
        nextAttemptAt: new Date(t0 + 120_000).toISOString(),
        attempts: [{ statusCode: 429, responseHeaders: { 'retry-after': '120' } }],
      });

      h.clock.advance(119_999);
      expect(await worker.runOnce()).toBe(0);
      h.clock.advance(1);
      expect(await worker.runOnce()).toBe(1);
      [d] = await deliveriesOf(h, hook.id);
      expect(d).toMatchObject({ status: 'succeeded', attempt_count: 2 });
      expect(await webhookRow(h, hook.id)).toMatchObject({ active: 1, consecutive_failures: 0 });
    });

    it('503 with Retry-After as an HTTP date retries at that date', async () => {
      const at = Math.ceil((h.clock.now() + 300_000) / 1000) * 1000;
      receiver.respond = (r) =>
        r.path === '/maintenance'
          ? { status: 503, headers: { 'Retry-After': new Date(at).toUTCString() } }
          : { status: 200 };
      const { hook } = await oneDelivery('/maintenance');
      const worker = testWorker(h);
      expect(await worker.runOnce()).toBe(1);
      const [d] = await deliveriesOf(h, hook.id);
      expect(d).toMatchObject({ status: 'pending', attempt_count: 1, next_attempt_at: at });
      const [a] = await attemptsOf(h, d!.id);
      expect(a).toMatchObject({ status_code: 503 });
      expect(JSON.parse(a!.response_headers!)['retry-after']).toBe(new Date(at).toUTCString());
      h.clock.set(at - 1);
      expect(await worker.runOnce()).toBe(0);
    });

    it('Retry-After on a 500 is ignored: the policy’s 1 s', async () => {
      receiver.respond = (r) =>
        r.path === '/error-after' ? { status: 500, headers: { 'Retry-After': '120' } } : {};
      const { hook } = await oneDelivery('/error-after');
      const t0 = h.clock.now();
      expect(await testWorker(h).runOnce()).toBe(1);
      const [d] = await deliveriesOf(h, hook.id);
      expect(d).toMatchObject({ status: 'pending', next_attempt_at: t0 + 1_000 });
    });

    it('410 Gone disables the webhook at once, cancels its pending deliveries, and tells every admin why', async () => {
      receiver.respond = (r) =>
        r.path === '/gone' ? { status: 410, body: 'no such endpoint' } : { status: 200 };
      const org = await h.createOrg();
      const secondAdmin = await addAdmin(h, org, 'gone-admin@example.com');
      await addAgent(h, org, 'gone-agent@example.com');
      const hook = await createWebhook(h, org, { url: receiver.url('/gone') });
      const other = await createWebhook(h, org, { url: receiver.url('/still-here') });
      await createTicket(h, org);
      const [first] = await deliveriesOf(h, hook.id);
      // Two more of this webhook's deliveries, pending but not yet due.
      const later = [
        await insertDelivery(h, org.organizationId, hook.id),
        await insertDelivery(h, org.organizationId, hook.id),
      ];
      await h.db
        .updateTable('deliveries')
        .set({ next_attempt_at: h.clock.now() + 3_600_000 })
        .where('id', 'in', later)
        .execute();

      const before = receiver.received.filter((r) => r.path === '/gone').length;
      const worker = testWorker(h);
      for (let i = 0; i < 5 && (await worker.runOnce()) > 0; i++);
      expect(receiver.received.filter((r) => r.path === '/gone').length - before).toBe(1);

      const row = await webhookRow(h, hook.id);
      expect(row).toMatchObject({ active: 0, disabled_reason: 'gone', consecutive_failures: 1 });
      expect(row.disabled_at).toBe(h.clock.now());
      const deliveries = await deliveriesOf(h, hook.id);
      expect(deliveries.find((d) => d.id === first!.id)).toMatchObject({
        status: 'failed',
        attempt_count: 1,
        next_attempt_at: null,
      });
      expect(deliveries.filter((d) => later.includes(d.id)).map((d) => d.status)).toEqual([
        'cancelled',
        'cancelled',
      ]);
      expect(await attemptsOf(h, first!.id)).toMatchObject([{ status_code: 410 }]);
      // Another webhook of the organization is untouched.
      expect(await webhookRow(h, other.id)).toMatchObject({ active: 1 });
      expect((await deliveriesOf(h, other.id)).map((d) => d.status)).toEqual(['succeeded']);

      const api = await h.request({
        method: 'GET',
        url: `/api/webhooks/${hook.id}`,
        key: org.apiKey,
      });
      expect(api.json()).toMatchObject({ active: false, disabledReason: 'gone' });

      const notes = await notificationsOf(h, org.organizationId);
      expect(notes.map((n) => n.user_id).sort()).toEqual([org.adminUserId, secondAdmin].sort());
      for (const n of notes) {
        expect(n.type).toBe('webhook_disabled');
        expect(JSON.parse(n.data)).toEqual({
          webhookId: hook.id,
          url: receiver.url('/gone'),
          lastError: 'HTTP 410',
          reason: 'gone',
        });
        expect(n.body).toContain('410 Gone');
        expect(n.body).not.toContain('consecutive');
      }

      expect(await disabledMailJobs(h, org.organizationId)).toHaveLength(2);
      await drain(jobRunner(h, mail.url));
      const mine = [];
      for (const m of mail.mails) {
        const parsed = await parseMail(m.raw);
        if (parsed.text?.includes(receiver.url('/gone'))) mine.push({ to: m.to, parsed });
      }
      expect(mine.map((m) => m.to[0]).sort()).toEqual(
        [await firstAdminEmail(h, org), 'gone-admin@example.com'].sort(),
      );
      for (const { parsed } of mine) {
        expect(parsed.subject).toBe('[Hookdesk] Webhook "hook" was disabled');
        expect(parsed.text).toContain('410 Gone');
        expect(parsed.text).not.toContain('consecutive');
      }
    });

    it('a test delivery answered 410 fails and leaves the webhook active', async () => {
      receiver.respond = (r) => (r.path === '/gone-test' ? { status: 410 } : { status: 200 });
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, { url: receiver.url('/gone-test') });
      const res = await h.request({
        method: 'POST',
        url: `/api/webhooks/${hook.id}/test`,
        key: org.apiKey,
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        status: 'failed',
        attemptCount: 1,
        attempts: [{ statusCode: 410 }],
      });
      expect(await webhookRow(h, hook.id)).toMatchObject({
        active: 1,
        disabled_reason: null,
        consecutive_failures: 0,
      });
      expect(await notificationsOf(h, org.organizationId)).toEqual([]);
      expect(await disabledMailJobs(h, org.organizationId)).toEqual([]);
    });

    it('ten failures in a row say so in the notification’s reason', async () => {
      receiver.respond = (r) => (r.path === '/down' ? { status: 500 } : { status: 200 });
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, { url: receiver.url('/down'), retryPolicy: [] });
      await emitTicketEvents(h, org.organizationId, 10, 'r');
      const worker = testWorker(h, { concurrency: 1, perWebhook: 1 });
      for (let i = 0; i < 30 && (await worker.runOnce()) > 0; i++);
      expect(await webhookRow(h, hook.id)).toMatchObject({
        active: 0,
        disabled_reason: 'consecutive_failures',
      });
      const notes = await notificationsOf(h, org.organizationId);
      expect(notes).toHaveLength(1);
      expect(JSON.parse(notes[0]!.data)).toMatchObject({ reason: 'consecutive_failures' });
      expect(notes[0]!.body).toContain('After 10 consecutive failed deliveries');
    });
  },
  ENV,
);
