/**
 * Fairness between organizations, end to end: `hookdesk serve` as a real
 * process with 16 delivery slots. Organization A has nine webhooks pointing
 * at a receiver that never answers (a tarpit: 9 × 4 per-webhook slots would
 * be 36, more than the worker has); organization B creates tickets through
 * the API meanwhile. B's deliveries must arrive promptly: A's slow holds are
 * bounded by its share of the slots (src/delivery/fairness.ts).
 *
 * With HOOKDESK_WORKER_SLOW_SHARE=100 (no share) the same run shows B's
 * deliveries waiting for A's timeouts: p99 of 2.5–3 s with the 3 s timeout
 * used here, measured when this test was written.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { freePort } from './support/cli.js';
import { forEachDialect } from './support/harness.js';
import { ApiClient, HookdeskProcess, sleep, until } from './support/processes.js';
import { CA_FILE, Receiver } from './support/receiver.js';
import { createWebhook, emitTicketEvents } from './support/webhooks.js';

const TIMEOUT_MS = 3_000;
const B_TICKETS = 40;
const B_INTERVAL_MS = 150;

const ENV = { HOOKDESK_EGRESS_ALLOW: '127.0.0.1', HOOKDESK_EGRESS_CA_FILE: CA_FILE };

forEachDialect(
  'fairness between organizations (hookdesk serve)',
  (h) => {
    const tarpit = new Receiver();
    const healthy = new Receiver();
    let serve: HookdeskProcess | null = null;

    beforeAll(async () => {
      await Promise.all([tarpit.start(), healthy.start()]);
      tarpit.respond = () => ({ hang: true });
    });
    afterAll(async () => {
      await Promise.all([tarpit.close(), healthy.close()]);
    });
    afterEach(async () => {
      if (serve?.running) await serve.kill();
      serve = null;
      await h.db
        .updateTable('deliveries')
        .set({ status: 'cancelled', lease_owner: null, lease_until: null, next_attempt_at: null })
        .where('status', 'in', ['pending', 'delivering'])
        .execute();
    });

    it("nine hanging webhooks of one organization leave another organization's deliveries on time", async () => {
      const a = await h.createOrg();
      const b = await h.createOrg();
      for (let i = 1; i <= 9; i++)
        await createWebhook(h, a, { url: tarpit.url(`/a/${i}`), events: ['ticket.created'] });
      await createWebhook(h, b, { url: healthy.url('/b'), events: ['ticket.created'] });
      // A backlog of 20 per tarpit webhook, due now.
      await emitTicketEvents(h, a.organizationId, 20, 'a');

      const port = await freePort();
      serve = new HookdeskProcess('serve', ['serve'], {
        DATABASE_URL: h.databaseUrl,
        PORT: String(port),
        HOST: '127.0.0.1',
        ...ENV,
        HOOKDESK_DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
        HOOKDESK_WORKER_CONCURRENCY: '16',
        LOG_LEVEL: 'warn',
      });
      await until(
        'the API',
        () =>
          fetch(`http://127.0.0.1:${port}/readyz`).then(
            (r) => r.ok,
            () => false,
          ),
        60_000,
        () => serve!.describe(),
      );
      // A's tarpit holds requests before B starts.
      await until(
        'the tarpit to hold requests',
        () => tarpit.received.length >= 4,
        20_000,
        () => serve!.describe(),
      );

      const api = new ApiClient(`http://127.0.0.1:${port}`, b.apiKey);
      const sentAt = new Map<string, number>();
      for (let i = 0; i < B_TICKETS; i++) {
        const subject = `b-${i}`;
        sentAt.set(subject, Date.now());
        const res = await api.call('POST', '/api/tickets', {
          subject,
          requester: { email: 'pat@example.com' },
        });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        await sleep(B_INTERVAL_MS);
      }
      await until(
        `${B_TICKETS} deliveries to B`,
        () => healthy.received.length >= B_TICKETS,
        30_000,
        () => serve!.describe(),
      );
      const delays = healthy.received
        .map((r) => {
          const subject = (
            JSON.parse(r.body.toString()) as { data: { ticket: { subject: string } } }
          ).data.ticket.subject;
          return r.at - sentAt.get(subject)!;
        })
        .sort((x, y) => x - y);
      const p99 = delays[Math.ceil(0.99 * delays.length) - 1]!;
      // The tarpit was still holding requests all along (nothing answered it).
      expect(tarpit.received.length).toBeGreaterThanOrEqual(4);
      expect(p99, `B's delays (ms): ${delays.join(', ')}`).toBeLessThan(1_000);
    });
  },
  ENV,
);
