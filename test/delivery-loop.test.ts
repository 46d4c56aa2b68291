/**
 * The running worker loop in real time: wake-ups within milliseconds of a
 * commit, retries on their schedule, and one hanging endpoint not slowing the
 * others. Bounds are generous multiples of the targets, far below the
 * 5-second safety-net poll, so they fail only when the mechanism is missing.
 * The tests wait on the worker's events (its claims, recorded attempts and
 * sleeps) or on the receiver, never for a fixed time.
 */
import type { KyselyPlugin } from 'kysely';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../src/clock.js';
import type { DeliveryWorker } from '../src/delivery/worker.js';
import { forEachDialect } from './support/harness.js';
import { CA_FILE, Receiver } from './support/receiver.js';
import { EventMonitor, nextEvent, until } from './support/wait.js';
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

    type Options = Parameters<typeof testWorker>[1];
    const create = (opts: Options = {}) =>
      (worker = testWorker(h, {
        clock: systemClock,
        pollIntervalMs: 5_000,
        listen: true,
        ...opts,
      }));
    const start = (opts: Options = {}) => {
      const w = create(opts);
      w.start();
      return w;
    };
    /** Starts a worker; resolves once it listens (where the dialect can) and sleeps with nothing to do. */
    const startIdle = async (opts: Options = {}) => {
      const w = create(opts);
      const listens = (opts.listen ?? true) && h.database.dialect.capabilities.listenNotify;
      const settled = listens
        ? nextEvent(w.events, 'listening', 5_000).then(() => nextEvent(w.events, 'idle', 5_000))
        : nextEvent(w.events, 'idle', 5_000);
      w.start();
      await settled;
      return w;
    };
    /** Resolves when an attempt to `webhookId` is recorded and the worker then sleeps with nothing to do. */
    const recordedThenIdle = async (w: DeliveryWorker, webhookId: string, timeoutMs: number) => {
      await nextEvent(
        w.events,
        'attempt:recorded',
        timeoutMs,
        (a) => a.delivery.webhook_id === webhookId,
      );
      await nextEvent(w.events, 'idle', timeoutMs);
    };

    it('wakes within milliseconds when a delivery commits, not at the next poll', async () => {
      receiver.respond = () => ({ status: 200 });
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/wake'),
        events: ['ticket.created'],
      });
      const w = await startIdle();
      const latencies: number[] = [];
      for (let i = 0; i < 5; i++) {
        const before = receiver.received.length;
        // Each measurement starts from a worker asleep with nothing to do.
        const settled = recordedThenIdle(w, hook.id, 3_000);
        const t0 = Date.now();
        await createTicket(h, org);
        await receiver.waitFor(before + 1, 3_000);
        latencies.push(receiver.received[before]!.at - t0);
        await settled;
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
      const w = create({
        clock,
        database: { ...h.database, db: h.db.withPlugin(plugin) },
        listen: false,
      });
      const sleeps = new EventMonitor(w.events, 'sleeping');
      const claimed = nextEvent(w.events, 'claimed', 4_000, (c) =>
        c.deliveries.some((d) => d.webhook_id === hook.id),
      );
      w.start();
      await claimed;
      const slept = sleeps.seen.map(([s]) => s.ms);
      sleeps.release();
      await receiver.waitFor(before + 1, 4_000);
      expect(advanced).toBe(true);
      // Not at the 5 s poll: no sleep of the poll interval came before the claim that took it.
      expect(slept.filter((ms) => ms >= 5_000)).toEqual([]);
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
      const w = start();
      const succeeded = nextEvent(
        w.events,
        'attempt:recorded',
        8_000,
        (a) => a.delivery.webhook_id === hook.id && a.outcome.status === 'succeeded',
      );
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
      await succeeded;
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
      await startIdle({ concurrency: 8, perWebhook: 4 });
      const before = receiver.received.length;
      const to = (path: string) => receiver.received.slice(before).filter((r) => r.path === path);
      // 4 requests hang (3 s timeout) and 6 more deliveries are due behind them, unclaimable.
      await emitTicketEvents(h, stuckOrg.organizationId, 10, 's');
      await until(
        '4 requests hanging at /stuck',
        () => to('/stuck').length >= 4,
        3_000,
        () => '',
        10,
      );
      await createTicket(h, org);
      await until(
        'the retry to /again within 3 s',
        () => to('/again').length >= 2,
        3_000,
        () => '',
        20,
      );
      const [first, retry] = to('/again');
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
      const w = await startIdle({ concurrency: 8, perWebhook: 4 });
      const before = receiver.received.length;
      let succeeded = 0;
      const recorded = nextEvent(
        w.events,
        'attempt:recorded',
        2_500,
        (a) =>
          a.delivery.webhook_id === healthy.id &&
          a.outcome.status === 'succeeded' &&
          ++succeeded === 20,
      );
      // 20 events: 20 deliveries to the hanging endpoint queued ahead of 20 to the healthy one.
      const t0 = Date.now();
      await emitTicketEvents(h, org.organizationId, 20, 't');
      const healthyArrivals = () =>
        receiver.received.slice(before).filter((r) => r.path === '/healthy');
      await until(
        '20 deliveries to /healthy',
        () => healthyArrivals().length >= 20,
        2_000,
        () => '',
        20,
      );
      const arrivals = healthyArrivals();
      expect(arrivals).toHaveLength(20);
      // All twenty arrived while the hung endpoint still held its requests (3 s timeout).
      expect(Math.max(...arrivals.map((r) => r.at)) - t0).toBeLessThan(1_500);
      const inflightHung = receiver.received.slice(before).filter((r) => r.path === '/hung').length;
      expect(inflightHung).toBeLessThanOrEqual(4);
      // Their outcomes are recorded promptly too (the receiver sees a request just before it is recorded).
      await recorded;
      expect((await deliveriesOf(h, healthy.id)).every((d) => d.status === 'succeeded')).toBe(true);
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
      await startIdle({ concurrency: 32, perWebhook: 4 });
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
      const w = await startIdle();
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
