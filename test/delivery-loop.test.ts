/**
 * The running worker loop in real time: wake-ups within milliseconds of a
 * commit, retries on their schedule, and one hanging endpoint not slowing the
 * others. Bounds are generous multiples of the targets, far below the
 * 5-second safety-net poll, so they fail only when the mechanism is missing.
 */
import type { KyselyPlugin } from 'kysely';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../src/clock.js';
import type { DeliveryWorker } from '../src/delivery/worker.js';
import { forEachDialect } from './support/harness.js';
import { CA_FILE, Receiver } from './support/receiver.js';
import { createTicket, createWebhook, deliveriesOf, emitTicketEvents } from './support/webhooks.js';
import { testWorker } from './support/worker.js';

const ENV = {
  HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
  HOOKDESK_EGRESS_CA_FILE: CA_FILE,
  HOOKDESK_DELIVERY_TIMEOUT_MS: '3000',
};

forEachDialect(
  'delivery loop',
  (h) => {
    const receiver = new Receiver();
    let worker: DeliveryWorker | null = null;
    beforeAll(async () => {
      await receiver.start();
    });
    afterEach(async () => {
      await worker?.stop(5_000);
      worker = null;
    });
    afterAll(async () => {
      await receiver.close();
    });

    const start = (opts: Parameters<typeof testWorker>[1] = {}) => {
      worker = testWorker(h, { clock: systemClock, pollIntervalMs: 5_000, listen: true, ...opts });
      worker.start();
      return worker;
    };
    const idle = () => new Promise((r) => setTimeout(r, 200));

    it('wakes within milliseconds when a delivery commits, not at the next poll', async () => {
      receiver.respond = () => ({ status: 200 });
      const org = await h.createOrg();
      await createWebhook(h, org, { url: receiver.url('/wake'), events: ['ticket.created'] });
      start();
      await idle();
      const latencies: number[] = [];
      for (let i = 0; i < 5; i++) {
        const before = receiver.received.length;
        const t0 = Date.now();
        await createTicket(h, org);
        await receiver.waitFor(before + 1, 3_000);
        latencies.push(receiver.received[before]!.at - t0);
        await idle();
      }
      expect(Math.max(...latencies)).toBeLessThan(1_000);
    });

    it('claims again at once when a delivery falls due between a claim and the next-wake query', async () => {
      receiver.respond = () => ({ status: 200 });
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/between'),
        events: ['ticket.created'],
      });
      const t = Date.now();
      // The worker's clock reads t until its first claim has answered (nothing due
      // yet), then t + 10: the delivery, due at t + 5, fell due during the claim,
      // as it can while a PostgreSQL claim is on the wire.
      const clock = new ManualClock(t);
      // The claim is the worker's first raw SQL statement (the others are built).
      let claim: unknown = null;
      let advanced = false;
      const plugin: KyselyPlugin = {
        transformQuery(a) {
          if (claim === null && a.node.kind === 'RawNode') claim = a.queryId;
          return a.node;
        },
        transformResult(a) {
          if (!advanced && a.queryId === claim) {
            advanced = true;
            clock.advance(10);
          }
          return Promise.resolve(a.result);
        },
      };
      await createTicket(h, org);
      await h.db
        .updateTable('deliveries')
        .set({ next_attempt_at: t + 5 })
        .where('webhook_id', '=', hook.id)
        .execute();
      const before = receiver.received.length;
      const started = Date.now();
      start({ clock, database: { ...h.database, db: h.db.withPlugin(plugin) }, listen: false });
      await receiver.waitFor(before + 1, 4_000);
      expect(advanced).toBe(true);
      // Not at the 5 s poll.
      expect(receiver.received[before]!.at - started).toBeLessThan(1_500);
    });

    it('retries on the policy schedule in real time', async () => {
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/spacing'),
        events: ['ticket.created'],
        retryPolicy: [1, 2],
      });
      let calls = 0;
      receiver.respond = (r) =>
        r.path === '/spacing' ? { status: ++calls < 3 ? 500 : 200 } : { status: 200 };
      start();
      const before = receiver.received.length;
      await createTicket(h, org);
      await receiver.waitFor(before + 3, 8_000);
      const times = receiver.received
        .slice(before)
        .filter((r) => r.path === '/spacing')
        .map((r) => r.at);
      const gaps = [times[1]! - times[0]!, times[2]! - times[1]!];
      expect(gaps[0]).toBeGreaterThanOrEqual(950);
      expect(gaps[0]).toBeLessThan(1_600);
      expect(gaps[1]).toBeGreaterThanOrEqual(1_950);
      expect(gaps[1]).toBeLessThan(2_600);
      await new Promise((r) => setTimeout(r, 100));
      expect((await deliveriesOf(h, hook.id))[0]!.status).toBe('succeeded');
    });

    it('keeps a retry on schedule while a hanging endpoint has due deliveries waiting for its slots', async () => {
      const stuckOrg = await h.createOrg();
      await createWebhook(h, stuckOrg, {
        url: receiver.url('/stuck'),
        events: ['ticket.created'],
        retryPolicy: [],
      });
      const org = await h.createOrg();
      await createWebhook(h, org, {
        url: receiver.url('/again'),
        events: ['ticket.created'],
        retryPolicy: [1],
      });
      let calls = 0;
      receiver.respond = (r) =>
        r.path === '/stuck'
          ? { hang: true }
          : r.path === '/again'
            ? { status: ++calls === 1 ? 500 : 200 }
            : { status: 200 };
      start({ concurrency: 8, perWebhook: 4 });
      await idle();
      const before = receiver.received.length;
      // 4 requests hang (3 s timeout) and 6 more deliveries are due behind them, unclaimable.
      await emitTicketEvents(h, stuckOrg.organizationId, 10, 's');
      await idle();
      await createTicket(h, org);
      const again = () => receiver.received.slice(before).filter((r) => r.path === '/again');
      for (let i = 0; i < 150 && again().length < 2; i++)
        await new Promise((r) => setTimeout(r, 20));
      const [first, retry] = again();
      expect(retry, 'the retry did not arrive within 3 s').toBeDefined();
      // Due 1 s after the first attempt: not at the hung requests' timeout, nor at the 5 s poll.
      expect(retry!.at - first!.at).toBeLessThan(1_600);
    });

    it('keeps delivering to healthy endpoints while one hangs until its timeout', async () => {
      const org = await h.createOrg();
      const hung = await createWebhook(h, org, {
        url: receiver.url('/hung'),
        events: ['ticket.created'],
        retryPolicy: [],
      });
      const healthy = await createWebhook(h, org, {
        url: receiver.url('/healthy'),
        events: ['ticket.created'],
      });
      receiver.respond = (r) => (r.path === '/hung' ? { hang: true } : { status: 200 });
      start({ concurrency: 8, perWebhook: 4 });
      await idle();
      const before = receiver.received.length;
      // 20 events: 20 deliveries to the hanging endpoint queued ahead of 20 to the healthy one.
      const t0 = Date.now();
      await emitTicketEvents(h, org.organizationId, 20, 't');
      const healthyArrivals = async () =>
        receiver.received.slice(before).filter((r) => r.path === '/healthy');
      for (let i = 0; i < 100 && (await healthyArrivals()).length < 20; i++)
        await new Promise((r) => setTimeout(r, 20));
      const arrivals = await healthyArrivals();
      expect(arrivals).toHaveLength(20);
      // All twenty arrived while the hung endpoint still held its requests (3 s timeout).
      expect(Math.max(...arrivals.map((r) => r.at)) - t0).toBeLessThan(1_500);
      const inflightHung = receiver.received.slice(before).filter((r) => r.path === '/hung').length;
      expect(inflightHung).toBeLessThanOrEqual(4);
      // Their outcomes are recorded promptly too (the receiver sees a request just before it is recorded).
      const allSucceeded = async () =>
        (await deliveriesOf(h, healthy.id)).every((d) => d.status === 'succeeded');
      for (let i = 0; i < 50 && !(await allSucceeded()); i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(await allSucceeded()).toBe(true);
      expect(Date.now() - t0).toBeLessThan(2_500);
      expect((await deliveriesOf(h, hung.id)).some((d) => d.status === 'delivering')).toBe(true);
    });

    it('never has more than perWebhook attempts in flight to one webhook', async () => {
      const org = await h.createOrg();
      await createWebhook(h, org, { url: receiver.url('/bounded'), events: ['ticket.created'] });
      let n = 0;
      // The first answer comes fast, freeing one slot while the others are still held.
      receiver.respond = (r) =>
        r.path === '/bounded' ? { status: 200, delayMs: n++ === 0 ? 20 : 400 } : { status: 200 };
      start({ concurrency: 32, perWebhook: 4 });
      await idle();
      const before = receiver.received.length;
      await emitTicketEvents(h, org.organizationId, 12, 'b');
      await receiver.waitFor(before + 12, 5_000);
      expect(receiver.maxInflight.get('/bounded')).toBeLessThanOrEqual(4);
      expect(receiver.maxInflight.get('/bounded')).toBeGreaterThanOrEqual(2);
    });

    it('stops claiming on stop() and lets attempts in flight finish', async () => {
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/drain'),
        events: ['ticket.created'],
      });
      receiver.respond = (r) =>
        r.path === '/drain' ? { status: 200, delayMs: 500 } : { status: 200 };
      const w = start();
      await idle();
      const before = receiver.received.length;
      await createTicket(h, org);
      await receiver.waitFor(before + 1, 3_000);
      await w.stop(5_000);
      worker = null;
      const [d] = await deliveriesOf(h, hook.id);
      expect(d!.status).toBe('succeeded');
    });
  },
  ENV,
);
