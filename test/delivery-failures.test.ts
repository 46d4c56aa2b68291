/**
 * Failure handling: every no-response error gets its stable code, and ten
 * consecutive failures disable the webhook, cancel its pending work and tell
 * every admin once, by notification and by email.
 */
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDeliveryContext } from '../src/delivery/context.js';
import type { Resolver } from '../src/egress/index.js';
import { jobBackoffMs } from '../src/jobs/queue.js';
import {
  addAdmin,
  addAgent,
  disabledMailJobs,
  firstAdminEmail,
  jobRunner,
  notificationsOf,
  webhookRow,
} from './support/disabled-webhooks.js';
import { drain } from './support/email.js';
import { forEachDialect } from './support/harness.js';
import { CA_FILE, Receiver } from './support/receiver.js';
import { MailCatcher } from './support/smtp.js';
import {
  attemptsOf,
  createTicket,
  createWebhook,
  deliveriesOf,
  emitTicketEvents,
} from './support/webhooks.js';
import { testWorker } from './support/worker.js';

const ENV = {
  HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
  HOOKDESK_EGRESS_CA_FILE: CA_FILE,
  HOOKDESK_DELIVERY_TIMEOUT_MS: '800',
};

forEachDialect(
  'delivery failures',
  (h) => {
    const receiver = new Receiver();
    const untrusted = new Receiver('untrusted');
    const mail = new MailCatcher();
    beforeAll(async () => {
      await Promise.all([receiver.start(), untrusted.start(), mail.start()]);
    });
    afterAll(async () => {
      await Promise.all([receiver.close(), untrusted.close(), mail.close()]);
    });

    /** One delivery to `url`, one attempt; returns its attempt row. */
    async function attemptOnce(url: string, worker = testWorker(h)) {
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, { url, events: ['ticket.created'] });
      await createTicket(h, org);
      expect(await worker.runOnce()).toBe(1);
      const [d] = await deliveriesOf(h, hook.id);
      const [a] = await attemptsOf(h, d!.id);
      return { delivery: d!, attempt: a!, hook };
    }

    it('records a timeout when the endpoint never answers', async () => {
      receiver.respond = () => ({ hang: true });
      const started = Date.now();
      const { attempt, delivery } = await attemptOnce(receiver.url('/hang'));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(attempt).toMatchObject({ status_code: null, error_code: 'timeout' });
      expect(attempt.duration_ms).toBeGreaterThanOrEqual(700);
      expect(delivery.status).toBe('pending');
    });

    it('records a timeout when the body trickles past the deadline', async () => {
      receiver.respond = () => ({ status: 200, delayMs: 2_000 });
      const { attempt } = await attemptOnce(receiver.url('/slow'));
      expect(attempt.error_code).toBe('timeout');
    });

    it('records connection refused', async () => {
      const closed: Server = createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const port = (closed.address() as { port: number }).port;
      await new Promise<void>((r) => closed.close(() => r()));
      const { attempt } = await attemptOnce(`https://127.0.0.1:${port}/`);
      expect(attempt).toMatchObject({ status_code: null, error_code: 'connect' });
    });

    it('records a TLS failure for an untrusted certificate', async () => {
      const { attempt } = await attemptOnce(untrusted.url('/tls'));
      expect(attempt).toMatchObject({ status_code: null, error_code: 'tls' });
    });

    it('never follows a redirect and records it', async () => {
      receiver.respond = (r) =>
        r.path === '/moved'
          ? { status: 302, headers: { location: receiver.url('/target') } }
          : { status: 200 };
      const before = receiver.received.length;
      const { attempt, delivery } = await attemptOnce(receiver.url('/moved'));
      expect(attempt).toMatchObject({ status_code: 302, error_code: 'redirect' });
      expect(delivery.status).toBe('pending');
      expect(receiver.received.slice(before).map((r) => r.path)).toEqual(['/moved']);
    });

    it('keeps the first 4,096 bytes of a large response body and flags the cut', async () => {
      const big = 'a'.repeat(4_000) + 'b'.repeat(200_000);
      receiver.respond = () => ({ status: 200, body: big });
      const { attempt, delivery } = await attemptOnce(receiver.url('/big'));
      expect(attempt.response_body).toBe(big.slice(0, 4_096));
      expect(attempt.response_body_truncated).toBe(1);
      expect(delivery.status).toBe('succeeded');
      receiver.respond = () => ({ status: 200, body: 'x'.repeat(4_096) });
      const exact = await attemptOnce(receiver.url('/exact'));
      expect(exact.attempt.response_body).toHaveLength(4_096);
      expect(exact.attempt.response_body_truncated).toBe(0);
    });

    it('refuses at delivery time a host that resolves to a blocked address, sending nothing', async () => {
      // DNS is the machine's edge: a resolver that answers like a rebinding attacker
      // would. Every address is loopback so that even a broken guard sends nothing
      // off the machine: 127.0.0.1 is allow-listed here, 127.0.0.2 is not.
      const resolver: Resolver = async (host) =>
        host === 'rebind.example.com'
          ? [
              { address: '127.0.0.1', family: 4 },
              { address: '127.0.0.2', family: 4 },
            ]
          : [{ address: '127.0.0.2', family: 4 }];
      const context = createDeliveryContext(h.config, { resolver });
      try {
        const before = receiver.received.length;
        for (const host of ['rebind.example.com', 'internal-only.example.com']) {
          const { attempt, delivery } = await attemptOnce(
            `https://${host}:${receiver.port}/x`,
            testWorker(h, { delivery: context }),
          );
          expect(attempt, JSON.stringify(attempt)).toMatchObject({
            status_code: null,
            error_code: 'blocked_destination',
          });
          // The tenant reads this message: it must not say where an internal name points.
          expect(attempt.error_message).toContain('resolves to a private or internal address');
          expect(attempt.error_message).not.toContain('127.0.0');
          expect(delivery.status).toBe('pending');
        }
        expect(receiver.received.length).toBe(before);
      } finally {
        await context.close();
      }
    });

    it('refuses an IP literal that is no longer allowed when the attempt is made', async () => {
      const strict = createDeliveryContext({ ...h.config, egressAllow: [] });
      try {
        const before = receiver.received.length;
        const { attempt } = await attemptOnce(
          receiver.url('/literal'),
          testWorker(h, { delivery: strict }),
        );
        expect(attempt.error_code).toBe('blocked_destination');
        expect(receiver.received.length).toBe(before);
      } finally {
        await strict.close();
      }
    });

    it('disables a webhook after 10 consecutive failures, cancels its pending deliveries, and notifies each admin once', async () => {
      receiver.respond = (r) =>
        r.path === '/broken' ? { status: 500, body: 'boom' } : { status: 200 };
      const org = await h.createOrg();
      const secondAdmin = await addAdmin(h, org, 'second-admin@example.com');
      await addAgent(h, org, 'agent@example.com');
      const hook = await createWebhook(h, org, {
        url: receiver.url('/broken'),
        events: ['ticket.created'],
        retryPolicy: [],
      });
      const healthy = await createWebhook(h, org, {
        url: receiver.url('/healthy'),
        events: ['ticket.created'],
      });
      // 12 events: ten fail (one attempt each, no retries), the last two are cancelled unsent.
      await emitTicketEvents(h, org.organizationId, 12, 't');
      const worker = testWorker(h, { concurrency: 1, perWebhook: 1 });
      const brokenBefore = receiver.received.filter((r) => r.path === '/broken').length;
      for (let i = 0; i < 30 && (await worker.runOnce()) > 0; i++);
      expect(receiver.received.filter((r) => r.path === '/broken').length - brokenBefore).toBe(10);
      const row = await webhookRow(h, hook.id);
      expect(row).toMatchObject({
        active: 0,
        disabled_reason: 'consecutive_failures',
        consecutive_failures: 10,
      });
      expect(row.disabled_at).toBe(h.clock.now());
      const statuses = (await deliveriesOf(h, hook.id)).map((d) => d.status);
      expect(statuses.filter((s) => s === 'failed')).toHaveLength(10);
      expect(statuses.filter((s) => s === 'cancelled')).toHaveLength(2);
      expect((await deliveriesOf(h, healthy.id)).every((d) => d.status === 'succeeded')).toBe(true);

      const notes = await notificationsOf(h, org.organizationId);
      expect(notes.map((n) => n.user_id).sort()).toEqual([org.adminUserId, secondAdmin].sort());
      for (const n of notes) {
        expect(n.type).toBe('webhook_disabled');
        expect(JSON.parse(n.data)).toMatchObject({
          webhookId: hook.id,
          url: receiver.url('/broken'),
        });
      }
      const api = (
        await h.request({ method: 'GET', url: '/api/notifications', key: org.apiKey })
      ).json();
      expect(api.data).toHaveLength(1);
      expect(api.data[0]).toMatchObject({ type: 'webhook_disabled', data: { webhookId: hook.id } });

      // The email is no work of the delivery worker: one job per admin, run by the job runner.
      const mailed = () =>
        mail.mails.filter(
          (m) => m.raw.includes(hook.id) || m.raw.includes(receiver.url('/broken')),
        );
      expect(mailed()).toEqual([]);
      expect(await disabledMailJobs(h, org.organizationId)).toHaveLength(2);
      await drain(jobRunner(h, mail.url));
      const sent = mailed();
      expect(sent.map((m) => m.to[0]).sort()).toEqual(
        [await firstAdminEmail(h, org), 'second-admin@example.com'].sort(),
      );
      for (const m of sent) {
        expect(m.raw).toContain('hook');
        expect(m.raw).toContain(receiver.url('/broken'));
        expect(m.raw).toContain('HTTP 500');
      }

      // Re-enabling resets the count; nothing more was sent meanwhile.
      const reenabled = await h.request({
        method: 'PATCH',
        url: `/api/webhooks/${hook.id}`,
        key: org.apiKey,
        payload: { active: true },
      });
      expect(reenabled.json()).toMatchObject({
        active: true,
        consecutiveFailures: 0,
        disabledAt: null,
        disabledReason: null,
      });
    });

    it('retries the disabled-webhook email while the SMTP server is away', async () => {
      receiver.respond = (r) => (r.path === '/smtp-away' ? { status: 500 } : { status: 200 });
      const org = await h.createOrg();
      await createWebhook(h, org, {
        url: receiver.url('/smtp-away'),
        events: ['ticket.created'],
        retryPolicy: [],
      });
      await emitTicketEvents(h, org.organizationId, 10, 'a');
      const worker = testWorker(h, { concurrency: 1, perWebhook: 1 });
      for (let i = 0; i < 30 && (await worker.runOnce()) > 0; i++);
      expect(await disabledMailJobs(h, org.organizationId)).toMatchObject([{ status: 'pending' }]);

      // Nothing listens on this port: the send fails and the job waits for its retry.
      const closed: Server = createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const port = (closed.address() as { port: number }).port;
      await new Promise<void>((r) => closed.close(() => r()));
      await drain(jobRunner(h, `smtp://127.0.0.1:${port}`));
      expect(await disabledMailJobs(h, org.organizationId)).toMatchObject([
        { status: 'pending', attempt_count: 1 },
      ]);

      h.clock.advance(jobBackoffMs(1));
      await drain(jobRunner(h, mail.url));
      expect(await disabledMailJobs(h, org.organizationId)).toMatchObject([
        { status: 'succeeded', attempt_count: 2 },
      ]);
      const sent = mail.mails.filter((m) => m.raw.includes(receiver.url('/smtp-away')));
      expect(sent.map((m) => m.to)).toEqual([[await firstAdminEmail(h, org)]]);
      expect(sent[0]!.raw).toContain('was disabled');
    });
  },
  ENV,
);
