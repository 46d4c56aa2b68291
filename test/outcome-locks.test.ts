/**
 * Outcome batches and new deliveries on PostgreSQL never deadlock.
 *
 * A batch with failures locks its webhooks' rows in id order before it
 * counts failure streaks. A transaction that creates deliveries holds a
 * FOR KEY SHARE lock on each of their webhooks (the foreign key), taken in
 * whatever order the deliveries are inserted. With FOR UPDATE the two
 * conflicted: the insert held webhook B and waited for A, the batch held A
 * and waited for B, and PostgreSQL aborted one (1 ticket in ~1,000 answered
 * 500 in the API benchmark). FOR NO KEY UPDATE does not conflict with
 * FOR KEY SHARE. This builds exactly that interleaving.
 */
import { expect, it } from 'vitest';
import type { Db } from '../src/db/schema.js';
import { claimDueDeliveries } from '../src/delivery/queue/claim.js';
import { deliveryRows } from '../src/delivery/queue/fanout.js';
import { recordOutcomes } from '../src/delivery/queue/outcome.js';
import type { AttemptResult } from '../src/delivery/sender.js';
import { newId } from '../src/ids.js';
import { forEachDialect } from './support/harness.js';
import { sleep } from './support/wait.js';
import { createTicket, createWebhook } from './support/webhooks.js';

const FAILED: Omit<AttemptResult, 'startedAt'> = {
  success: false,
  durationMs: 5,
  statusCode: 500,
  responseHeaders: {},
  responseBody: 'no',
  responseBodyTruncated: false,
  error: null,
};

/** A pending delivery of `webhookId`, made by fan-out's own row builder. */
async function insertDelivery(trx: Db, organizationId: string, webhookId: string, now: number) {
  const event = {
    id: newId(),
    organizationId,
    surveyId: null,
    type: 'ticket.created',
    payload: '{}',
  };
  const hook = { id: webhookId, surveyId: null, events: new Set([event.type]), attemptsAllowed: 7 };
  await trx
    .insertInto('deliveries')
    .values(deliveryRows([event], [hook], now))
    .execute();
}

forEachDialect('outcome batch locks', (h) => {
  it.skipIf(h.dialect !== 'postgres')(
    'a batch with failures and a transaction creating deliveries for the same webhooks both commit',
    async () => {
      const org = await h.createOrg();
      const hooks = [
        await createWebhook(h, org, { url: 'https://hooks.example.com/a' }),
        await createWebhook(h, org, { url: 'https://hooks.example.com/b' }),
      ];
      await createTicket(h, org);
      const [first, second] = hooks.map((x) => String(x.id)).sort();
      const now = h.clock.now();
      const claimed = await claimDueDeliveries(h.db, {
        owner: 'w1',
        now,
        leaseMs: 60_000,
        limit: 10,
        perWebhook: 4,
        excludeWebhookIds: [],
      });
      expect(claimed).toHaveLength(2);
      const items = claimed.map((delivery) => ({
        delivery,
        attempt: { ...FAILED, startedAt: now },
      }));

      let keyShareHeld!: () => void;
      const holding = new Promise<void>((r) => (keyShareHeld = r));
      // Holds the second webhook's row (FOR KEY SHARE), then, once the batch has
      // locked the first, needs the first one too.
      const creating = h.db.transaction().execute(async (trx) => {
        await insertDelivery(trx, org.organizationId, second!, now);
        keyShareHeld();
        await sleep(300);
        await insertDelivery(trx, org.organizationId, first!, now);
      });
      await holding;
      const recording = h.db
        .transaction()
        .execute((trx) => recordOutcomes(trx, h.clock, 'w1', items));

      const [created, recorded] = await Promise.allSettled([creating, recording]);
      expect(created.status, String((created as PromiseRejectedResult).reason)).toBe('fulfilled');
      expect(recorded.status, String((recorded as PromiseRejectedResult).reason)).toBe('fulfilled');
      const outcomes = (recorded as PromiseFulfilledResult<Awaited<typeof recording>>).value;
      expect(outcomes.map((o) => [o.recorded, o.status])).toEqual([
        [true, 'pending'],
        [true, 'pending'],
      ]);
      const streaks = await h.db
        .selectFrom('webhooks')
        .select('consecutive_failures')
        .where('id', 'in', [first!, second!])
        .execute();
      expect(streaks.map((s) => s.consecutive_failures)).toEqual([1, 1]);
    },
  );
});
