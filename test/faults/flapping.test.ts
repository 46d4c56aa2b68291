/**
 * Fault: a receiver that flaps between windows of 500s and windows of 200s
 * (300 ms each, by wall clock at arrival), against webhooks whose retry
 * policy is short ([1, 1, 1]: 4 attempts a second apart).
 *
 * Every delivery must end `succeeded` or, with its 4 attempts used up,
 * `failed`; and the books must balance exactly: one delivery_attempts row per
 * request the receiver saw, with the status the receiver answered, in order;
 * succeeded + failed = total.
 *
 * A random 0–250 ms answer delay moves each retry to a random phase of the
 * flapping, so outcomes mix (success at the first, second, … attempt, and
 * outright failure). 100 webhooks × 2 tickets keeps any webhook under 10
 * consecutive failures (at most 2 × 4 = 8), so auto-disable, which would
 * cancel deliveries, never enters this test. In-process worker on the system
 * clock; both dialects.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { forEachDialect } from '../support/harness.js';
import { CA_FILE, Receiver } from '../support/receiver.js';
import { testWorker } from '../support/worker.js';
import { createWebhook, emitTicketEvents } from '../support/webhooks.js';
import { deliveryHeader, until } from '../support/processes.js';

const WEBHOOKS = 100;
const TICKETS = 2;
const TOTAL = WEBHOOKS * TICKETS;
const WINDOW_MS = 300;
const POLICY = [1, 1, 1];
const ATTEMPTS_ALLOWED = POLICY.length + 1;

forEachDialect(
  'a flapping receiver',
  (h) => {
    const receiver = new Receiver();
    beforeAll(async () => {
      await receiver.start();
    });
    afterAll(async () => {
      await receiver.close();
    });

    it('every delivery ends succeeded or failed, and attempts add up exactly to the requests seen', async () => {
      const org = await h.createOrg();
      const hookIds: string[] = [];
      for (let i = 0; i < WEBHOOKS; i++) {
        const hook = await createWebhook(h, org, {
          name: `flap ${i}`,
          url: receiver.url(`/flap/${i}`),
          events: ['ticket.created'],
          retryPolicy: POLICY,
        });
        hookIds.push(hook.id);
      }

      // What the receiver answered, per delivery, in arrival order.
      const answered = new Map<string, number[]>();
      const t0 = Date.now();
      receiver.respond = (req) => {
        const phase = Math.floor((req.at - t0) / WINDOW_MS) % 2;
        const status = phase === 0 ? 500 : 200;
        const id = deliveryHeader(req.headers);
        answered.set(id, [...(answered.get(id) ?? []), status]);
        return {
          status,
          body: status === 200 ? 'ok' : 'flapping',
          delayMs: Math.floor(Math.random() * 250),
        };
      };

      const worker = testWorker(h, { clock: systemClock, concurrency: 32, pollIntervalMs: 250 });
      worker.start();
      try {
        await emitTicketEvents(h, org.organizationId, TICKETS, 'flap');
        const deliveries = () =>
          h.db
            .selectFrom('deliveries')
            .select(['id', 'status', 'attempt_count', 'attempts_allowed'])
            .where('organization_id', '=', org.organizationId)
            .execute();
        await until(
          'every delivery to finish',
          async () => {
            const rows = await deliveries();
            return rows.length === TOTAL && rows.every((d) => d.status !== 'pending');
          },
          60_000,
          () => `receiver saw ${receiver.received.length} requests`,
          200,
        );
        await worker.stop();

        const rows = await deliveries();
        const attempts = await h.db
          .selectFrom('delivery_attempts')
          .innerJoin('deliveries', 'deliveries.id', 'delivery_attempts.delivery_id')
          .select([
            'delivery_attempts.delivery_id',
            'delivery_attempts.number',
            'delivery_attempts.status_code',
          ])
          .where('deliveries.organization_id', '=', org.organizationId)
          .orderBy('delivery_attempts.delivery_id')
          .orderBy('delivery_attempts.number')
          .execute();
        const byDelivery = new Map<string, number[]>();
        for (const a of attempts)
          byDelivery.set(a.delivery_id, [...(byDelivery.get(a.delivery_id) ?? []), a.status_code!]);

        const succeeded = rows.filter((d) => d.status === 'succeeded');
        const failed = rows.filter((d) => d.status === 'failed');
        // Nothing else: no cancelled (no auto-disable), nothing stuck delivering.
        expect(succeeded.length + failed.length).toBe(TOTAL);
        // Sum of attempts = requests the receiver saw, three ways.
        const sumAttemptCount = rows.reduce((n, d) => n + d.attempt_count, 0);
        expect(attempts).toHaveLength(receiver.received.length);
        expect(sumAttemptCount).toBe(receiver.received.length);
        expect(new Set(answered.keys())).toEqual(new Set(rows.map((d) => d.id)));

        for (const d of rows) {
          const recorded = byDelivery.get(d.id) ?? [];
          // What was recorded is exactly what the receiver answered, attempt by attempt.
          expect(recorded, d.id).toEqual(answered.get(d.id));
          expect(recorded).toHaveLength(d.attempt_count);
          expect(d.attempts_allowed).toBe(ATTEMPTS_ALLOWED);
          if (d.status === 'succeeded') {
            // Failures, then one success, then nothing more.
            expect(recorded.at(-1), d.id).toBe(200);
            expect(
              recorded.slice(0, -1).every((s) => s === 500),
              d.id,
            ).toBe(true);
            expect(recorded.length).toBeLessThanOrEqual(ATTEMPTS_ALLOWED);
          } else {
            expect(recorded, d.id).toEqual(Array<number>(ATTEMPTS_ALLOWED).fill(500));
          }
        }
        const hooks = await h.db
          .selectFrom('webhooks')
          .select(['active', 'consecutive_failures'])
          .where('id', 'in', hookIds)
          .execute();
        expect(hooks.every((w) => w.active === 1)).toBe(true);

        // The flapping really was exercised: first-try successes, retried successes and failures.
        const retried = succeeded.filter((d) => d.attempt_count > 1).length;
        console.log(
          `[${h.dialect}] ${TOTAL} deliveries, ${receiver.received.length} requests: ` +
            `${succeeded.length - retried} succeeded first time, ${retried} after retries, ${failed.length} failed`,
        );
        expect(retried).toBeGreaterThan(0);
        expect(failed.length).toBeGreaterThan(0);
        expect(succeeded.length - retried).toBeGreaterThan(0);
      } finally {
        await worker.stop();
      }
    }, 90_000);
  },
  { HOOKDESK_EGRESS_ALLOW: '127.0.0.1', HOOKDESK_EGRESS_CA_FILE: CA_FILE },
);
