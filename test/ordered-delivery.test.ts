/**
 * Ordered delivery per ticket (src/delivery/queue/claim.ts): deliveries that
 * share an `order_key` on one webhook are attempted one at a time, in
 * creation order; a retrying one holds back the later ones; other keys, and
 * other webhooks, are not held back. In this process on both dialects, and
 * with two `hookdesk worker` processes on one PostgreSQL database.
 *
 * The rows are inserted with their keys here; that the fan-out sets the key
 * for webhooks with `ordering: "ticket"` is tested with the API field.
 */
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { claimDueDeliveries } from '../src/delivery/queue/claim.js';
import { notifyWorkers } from '../src/delivery/wake.js';
import { newId } from '../src/ids.js';
import { forEachDialect, type Harness } from './support/harness.js';
import { sleep, until, useWorkerProcesses } from './support/processes.js';
import { CA_FILE, useReceiver, type Received, type Receiver } from './support/receiver.js';
import { createWebhook } from './support/webhooks.js';
import { testWorker } from './support/worker.js';

const ENV = { HOOKDESK_EGRESS_ALLOW: '127.0.0.1', HOOKDESK_EGRESS_CA_FILE: CA_FILE };

/** Pending deliveries due now, `perKey` for each key, created key by key in turn (ids ascending). */
async function insertOrdered(
  h: Harness,
  organizationId: string,
  webhookId: string,
  keys: readonly string[],
  perKey: number,
): Promise<Map<string, string>> {
  const keyOf = new Map<string, string>();
  const now = Date.now();
  const rows = [];
  for (let n = 0; n < perKey; n++)
    for (const key of keys) {
      const id = newId();
      keyOf.set(id, key);
      rows.push({
        id,
        organization_id: organizationId,
        webhook_id: webhookId,
        event_id: newId(),
        event_type: 'ticket.updated',
        payload: JSON.stringify({ key, n }),
        status: 'pending' as const,
        attempt_count: 0,
        attempts_allowed: 3,
        next_attempt_at: now,
        is_test: 0,
        rate_slot: 0,
        order_key: key,
        created_at: now,
        updated_at: now,
      });
    }
  await h.db.insertInto('deliveries').values(rows).execute();
  return keyOf;
}

/** Tracks, per key, the requests on the wire and the order they arrived in. */
function watch(receiver: Receiver, keyOf: ReadonlyMap<string, string>) {
  const inFlight = new Map<string, number>();
  const overlapped = new Set<string>();
  const arrived = new Map<string, { id: string; at: number }[]>();
  const id = (r: Received) => String(r.headers['x-webhook-delivery']);
  const track = (r: Received, delayMs: number) => {
    const key = keyOf.get(id(r));
    if (key === undefined) return;
    const n = (inFlight.get(key) ?? 0) + 1;
    inFlight.set(key, n);
    if (n > 1) overlapped.add(key);
    if (!arrived.has(key)) arrived.set(key, []);
    arrived.get(key)!.push({ id: id(r), at: r.at });
    // Answered when the receiver's timer of the same delay fires.
    setTimeout(() => inFlight.set(key, inFlight.get(key)! - 1), delayMs);
  };
  return { overlapped, arrived, track, id };
}

forEachDialect(
  'ordered delivery per ticket',
  (h) => {
    const receiver = useReceiver();

    it('one key at a time in creation order; a retry holds back only its own key', async () => {
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/ordered/a'),
        retryPolicy: [1],
      });
      const keyOf = await insertOrdered(h, org.organizationId, hook.id, ['t1', 't2', 't3'], 4);
      const firstOfT1 = [...keyOf].find(([, k]) => k === 't1')![0];
      const w = watch(receiver, keyOf);
      let failedOnce = false;
      receiver.respond = (req) => {
        w.track(req, 30);
        if (w.id(req) === firstOfT1 && !failedOnce) {
          failedOnce = true;
          return { status: 500, delayMs: 30 };
        }
        return { status: 200, delayMs: 30 };
      };
      const worker = testWorker(h, { clock: systemClock, concurrency: 8, perWebhook: 8 });
      worker.start();
      try {
        await until(
          't2 and t3 delivered',
          () => ['t2', 't3'].every((k) => (w.arrived.get(k)?.length ?? 0) >= 4),
          10_000,
        );
        // t1's first is waiting for its retry (1 s): the rest of t1 is held back behind it.
        expect(w.arrived.get('t1')!.map((a) => a.id)).toEqual([firstOfT1]);
        const secondOfT1 = [...keyOf].filter(([, k]) => k === 't1')[1]![0];
        const res = await h.request({
          method: 'GET',
          url: `/api/webhooks/${hook.id}/deliveries/${secondOfT1}`,
          key: org.apiKey,
        });
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json().heldBackBy).toEqual({ deliveryId: firstOfT1, status: 'pending' });

        await until(
          't1 delivered after its retry',
          () => (w.arrived.get('t1')?.length ?? 0) >= 5,
          10_000,
        );
        for (const key of ['t1', 't2', 't3']) {
          const ids = w.arrived.get(key)!.map((a) => a.id);
          const created = [...keyOf].filter(([, k]) => k === key).map(([id]) => id);
          // t1's first arrived twice (500, then its retry), and nothing overtook it.
          expect(key === 't1' ? ids.slice(1) : ids).toEqual(created);
        }
        expect([...w.overlapped]).toEqual([]);
      } finally {
        await worker.stop();
      }
    }, 30_000);

    it('an older delivery queued again waits for a later one in flight', async () => {
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, { url: receiver.url('/ordered/requeued') });
      const keyOf = await insertOrdered(h, org.organizationId, hook.id, ['k'], 2);
      const [older, later] = [...keyOf.keys()];
      // The later one is on the wire; the older one was queued again (a recovery, a retry).
      await h.db
        .updateTable('deliveries')
        .set({ status: 'delivering', lease_owner: 'elsewhere', lease_until: Date.now() + 60_000 })
        .where('id', '=', later!)
        .execute();
      const claim = () =>
        claimDueDeliveries(h.db, {
          owner: 'test',
          now: Date.now(),
          leaseMs: 10_000,
          limit: 10,
          perWebhook: 10,
          excludeWebhookIds: [],
        });
      expect((await claim()).map((d) => d.id)).toEqual([]);
      const res = await h.request({
        method: 'GET',
        url: `/api/webhooks/${hook.id}/deliveries/${older}`,
        key: org.apiKey,
      });
      expect(res.json().heldBackBy).toEqual({ deliveryId: later, status: 'delivering' });
      await h.db
        .updateTable('deliveries')
        .set({ status: 'succeeded', lease_owner: null })
        .where('id', '=', later!)
        .execute();
      expect((await claim()).map((d) => d.id)).toEqual([older]);
    });

    it('unordered deliveries of the same webhook are not held back', async () => {
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, { url: receiver.url('/ordered/b') });
      const keyOf = await insertOrdered(h, org.organizationId, hook.id, ['only'], 6);
      await h.db
        .updateTable('deliveries')
        .set({ order_key: null })
        .where('webhook_id', '=', hook.id)
        .execute();
      const w = watch(receiver, keyOf);
      receiver.respond = (req) => {
        w.track(req, 200);
        return { status: 200, delayMs: 200 };
      };
      const worker = testWorker(h, { clock: systemClock, concurrency: 8, perWebhook: 8 });
      worker.start();
      try {
        await until('all six', () => (w.arrived.get('only')?.length ?? 0) >= 6, 10_000);
        // Without a key they went out together.
        expect(w.overlapped.has('only')).toBe(true);
      } finally {
        await worker.stop();
      }
    }, 20_000);

    if (h.dialect === 'postgres') {
      const processes = useWorkerProcesses();

      it('two worker processes never have two deliveries of one ticket in flight', async () => {
        const org = await h.createOrg();
        const hook = await createWebhook(h, org, { url: receiver.url('/ordered/procs') });
        const keys = Array.from({ length: 20 }, (_, i) => `ticket-${i}`);
        const keyOf = new Map<string, string>();
        const w = watch(receiver, keyOf);
        // Slow enough answers (4 in flight per process and webhook) that the
        // drain outlasts a worker's 5 s poll: a worker that lost the first
        // claim race (both claim the same first rows; SKIP LOCKED leaves it
        // none) joins then at the latest, and both hold deliveries of the
        // webhook at once.
        receiver.respond = (req) => {
          const delayMs = 100 + Math.floor(Math.random() * 101);
          w.track(req, delayMs);
          return { status: 200, delayMs };
        };
        const workers = processes.start(h.databaseUrl, ['A', 'B']);
        const { describe } = processes;
        await Promise.all(workers.map((p) => p.waitForLog('delivery worker started')));
        // Inserted once both run (and LISTEN), so both take part from the start.
        await sleep(500);
        for (const [id, key] of await insertOrdered(h, org.organizationId, hook.id, keys, 10))
          keyOf.set(id, key);
        await sql`select ${notifyWorkers()}`.execute(h.db);
        await until(
          'all 200 delivered',
          () => keys.every((k) => (w.arrived.get(k)?.length ?? 0) >= 10),
          40_000,
          describe,
        );
        expect([...w.overlapped]).toEqual([]);
        for (const key of keys) {
          const created = [...keyOf].filter(([, k]) => k === key).map(([id]) => id);
          expect(w.arrived.get(key)!.map((a) => a.id)).toEqual(created);
        }
        // Both processes took part.
        const counts = workers.map((p) => p.recordedAttempts().length);
        expect(
          counts.every((n) => n > 0),
          `${counts.join(',')}\n${describe()}`,
        ).toBe(true);
      }, 60_000);
    }
  },
  ENV,
);
