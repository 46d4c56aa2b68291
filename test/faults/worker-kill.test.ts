/**
 * Fault: the `hookdesk worker` process is SIGKILLed with 1,000 deliveries in
 * flight, then started again (docs/operations.md, "Failure behaviour").
 *
 * "In flight" here means the strong sense: the attempt's request has reached
 * the receiver and is waiting for its answer. The worker bounds attempts per
 * webhook to 4 per process, so the 1,000 deliveries are spread over 250
 * webhooks (4 each) and HOOKDESK_WORKER_CONCURRENCY is 1,000; the receiver
 * holds every request unanswered until the kill.
 *
 * After the restart every delivery must reach the receiver and succeed; a
 * delivery may arrive twice only if its first request was in flight at the
 * kill (same X-Webhook-Delivery), and the second arrival waits for the lease
 * (2 × HOOKDESK_DELIVERY_TIMEOUT_MS + 5 s) to run out.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { emitEvents, type EventInput } from '../../src/events/outbox.js';
import { newId } from '../../src/ids.js';
import { stop } from '../support/cli.js';
import { forEachDialect } from '../support/harness.js';
import { CA_FILE, Receiver, type Received } from '../support/receiver.js';
import { createWebhook } from '../support/webhooks.js';
import { HookdeskProcess, deliveryHeader, until } from '../support/processes.js';

const WEBHOOKS = 250;
const PER_WEBHOOK = 4;
const TOTAL = WEBHOOKS * PER_WEBHOOK;
/** Attempt timeout of the workers: long enough for 1,000 TLS handshakes on a small CI box. */
const TIMEOUT_MS = 5_000;
const LEASE_MS = 2 * TIMEOUT_MS + 5_000;

forEachDialect(
  'worker SIGKILL with 1,000 deliveries in flight',
  (h) => {
    const receiver = new Receiver();
    const procs: HookdeskProcess[] = [];
    const startWorker = (name: string) => {
      const p = new HookdeskProcess(name, ['worker'], {
        DATABASE_URL: h.databaseUrl,
        HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
        // The test CA through Node's own store, not HOOKDESK_EGRESS_CA_FILE: with that variable
        // every new TLS connection re-parses Node's ~140 bundled roots plus the extra CA
        // (~16 ms of blocked event loop each), so 1,000 fresh connections would take ~16 s
        // of CPU and time out before reaching the receiver. Reported separately (egress/agent.ts).
        NODE_EXTRA_CA_CERTS: CA_FILE,
        HOOKDESK_DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
        HOOKDESK_WORKER_CONCURRENCY: String(TOTAL),
        // One organization's silent endpoints get a quarter of the slots by default
        // (src/delivery/fairness.ts); this test wants every slot held.
        HOOKDESK_WORKER_SLOW_SHARE: '100',
        LOG_LEVEL: 'info',
      });
      procs.push(p);
      return p;
    };
    const diagnostics = () => procs.map((p) => p.describe()).join('\n');

    beforeAll(async () => {
      await receiver.start();
    });
    afterAll(async () => {
      await receiver.close();
    });
    afterEach(async () => {
      await Promise.all(procs.splice(0).map((p) => stop(p.child)));
    });

    it('every delivery reaches the receiver after a restart; only the attempts in flight at the kill arrive twice', async () => {
      const org = await h.createOrg();
      for (let i = 0; i < WEBHOOKS; i++)
        await createWebhook(h, org, {
          name: `kill ${i}`,
          url: receiver.url(`/kill/${i}`),
          events: ['ticket.created'],
        });
      // PER_WEBHOOK ticket.created events, each fanned out to every webhook.
      await h.db.transaction().execute((trx) =>
        emitEvents(
          trx,
          h.clock,
          Array.from({ length: PER_WEBHOOK }, (_, i): EventInput => {
            const ticketId = newId();
            return {
              type: 'ticket.created',
              organizationId: org.organizationId,
              ticketId,
              data: { ticket: { id: ticketId, subject: `Kill ${i}` } },
            };
          }),
        ),
      );
      const deliveries = () =>
        h.db
          .selectFrom('deliveries')
          .select(['id', 'status', 'attempt_count', 'lease_owner'])
          .where('organization_id', '=', org.organizationId)
          .execute();
      const ids = new Set((await deliveries()).map((d) => d.id));
      expect(ids.size).toBe(TOTAL);

      // Phase 1: every request is held open; the worker fills its 1,000 slots.
      let answer = false;
      receiver.respond = () => (answer ? { status: 200, body: 'ok' } : { hang: true });
      const a = startWorker('A');
      const firstArrival = () => receiver.received[0]?.at ?? Infinity;
      await until(
        `${TOTAL} requests held at the receiver`,
        // Kill before the first held request could time out and be recorded.
        () => receiver.received.length >= TOTAL || Date.now() > firstArrival() + TIMEOUT_MS - 1_500,
        60_000,
        diagnostics,
        20,
      );
      const killed = await a.kill();
      expect(killed.signal).toBe('SIGKILL');
      const atKill = receiver.received.slice();
      const heldAtKill = new Set(atKill.map((r) => deliveryHeader(r.headers)));
      const fillMs = atKill[atKill.length - 1]!.at - atKill[0]!.at;
      // A recorded nothing: every request was still unanswered when it died.
      expect(a.logged('delivery attempt'), a.describe()).toEqual([]);
      const claimedByA = (await deliveries()).filter(
        (d) => d.status === 'delivering' && d.lease_owner?.includes(`:${a.pid}:`),
      );
      expect(claimedByA).toHaveLength(TOTAL);
      // Most importantly, the fault happened with (nearly) everything in flight.
      expect(heldAtKill.size, `held ${heldAtKill.size} in ${fillMs} ms`).toBeGreaterThanOrEqual(
        TOTAL * 0.9,
      );
      console.log(
        `[${h.dialect}] ${heldAtKill.size}/${TOTAL} requests in flight at the kill (filled in ${fillMs} ms)`,
      );

      // Phase 2: a new worker process; the receiver now answers at once.
      answer = true;
      const restartAt = Date.now();
      const b = startWorker('B');
      await until(
        `all ${TOTAL} deliveries to succeed`,
        async () => (await deliveries()).every((d) => d.status === 'succeeded'),
        LEASE_MS + 60_000,
        diagnostics,
        250,
      );
      const recoveredMs = Date.now() - restartAt;

      const arrivals = new Map<string, Received[]>();
      for (const r of receiver.received) {
        const id = deliveryHeader(r.headers);
        arrivals.set(id, [...(arrivals.get(id) ?? []), r]);
      }
      // None lost, nothing foreign.
      expect(new Set(arrivals.keys())).toEqual(ids);
      const attempts = await h.db
        .selectFrom('delivery_attempts')
        .innerJoin('deliveries', 'deliveries.id', 'delivery_attempts.delivery_id')
        .select(['delivery_attempts.delivery_id', 'delivery_attempts.status_code'])
        .where('deliveries.organization_id', '=', org.organizationId)
        .execute();
      const recorded = new Map<string, number>();
      for (const t of attempts) recorded.set(t.delivery_id, (recorded.get(t.delivery_id) ?? 0) + 1);
      for (const id of ids) {
        const got = arrivals.get(id)!;
        // Each recorded attempt arrived once; the only extra arrival is the one A held at its death.
        expect(got.length, id).toBe((recorded.get(id) ?? 0) + (heldAtKill.has(id) ? 1 : 0));
        expect(recorded.get(id), id).toBe(1);
        if (heldAtKill.has(id)) {
          // The same delivery id both times; the resend waited for A's lease.
          expect(got[1]!.at - got[0]!.at, id).toBeGreaterThanOrEqual(LEASE_MS - 2_000);
          expect(got[1]!.body.equals(got[0]!.body), id).toBe(true);
        }
      }
      const final = await deliveries();
      expect(final.filter((d) => d.status !== 'succeeded' || d.attempt_count !== 1)).toEqual([]);
      expect(attempts.every((t) => t.status_code === 200)).toBe(true);
      await until(
        'B to log every attempt',
        () => b.logged('delivery attempt').length >= TOTAL,
        10_000,
        diagnostics,
      );
      expect(b.running).toBe(true);
      console.log(
        `[${h.dialect}] all ${TOTAL} delivered ${recoveredMs} ms after the restart (lease ${LEASE_MS} ms)`,
      );
    }, 150_000);
  },
  {
    HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
    HOOKDESK_EGRESS_CA_FILE: CA_FILE,
    HOOKDESK_MAX_WEBHOOKS_PER_ORG: String(WEBHOOKS),
  },
);
