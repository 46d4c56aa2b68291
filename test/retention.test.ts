/**
 * The retention pass over more old rows than one pass may delete: the next
 * pass follows shortly, not after the hourly interval, until none is left.
 */
import { afterEach, expect, it } from 'vitest';
import { pruneOnce, startRetention } from '../src/cli/retention.js';
import { newId } from '../src/ids.js';
import { createLogger } from '../src/logger.js';
import { forEachDialect } from './support/harness.js';
import { until } from './support/wait.js';
import { createWebhook } from './support/webhooks.js';

const DAY = 86_400_000;
/** A pass deletes at most 2 batches of 5 deliveries: 10 rows. */
const LIMITS = { batchSize: 5, maxBatchesPerPass: 2 };

forEachDialect('retention passes', (h) => {
  let stop = () => {};
  afterEach(() => stop());

  /** `count` succeeded deliveries of a new webhook completed at `completedAt`, one attempt each. */
  async function finished(count: number, completedAt: number): Promise<string> {
    const org = await h.createOrg();
    const hook = await createWebhook(h, org, { url: 'https://example.com/hook' });
    const rows = Array.from({ length: count }, () => ({
      id: newId(),
      organization_id: org.organizationId,
      webhook_id: hook.id,
      event_id: newId(),
      event_type: 'ticket.created',
      payload: '{}',
      status: 'succeeded' as const,
      attempt_count: 1,
      attempts_allowed: 1,
      next_attempt_at: null,
      is_test: 0,
      rate_slot: 0,
      created_at: completedAt,
      updated_at: completedAt,
      completed_at: completedAt,
    }));
    await h.db.insertInto('deliveries').values(rows).execute();
    await h.db
      .insertInto('delivery_attempts')
      .values(
        rows.map((r) => ({
          id: newId(),
          delivery_id: r.id,
          number: 1,
          started_at: completedAt,
          duration_ms: 3,
          status_code: 200,
          response_body_truncated: 0,
        })),
      )
      .execute();
    return hook.id;
  }

  const left = async (webhookId: string) =>
    Number(
      (
        await h.db
          .selectFrom('deliveries')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('webhook_id', '=', webhookId)
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('one pass deletes no more than its bound', async () => {
    const old = await finished(25, h.clock.now() - 40 * DAY);
    expect(await pruneOnce(h.db, h.clock, 30, LIMITS)).toBe(10);
    expect(await left(old)).toBe(15);
  });

  it('continues past the bound without waiting for the hourly interval, keeping recent rows', async () => {
    const old = await finished(35, h.clock.now() - 40 * DAY);
    const recent = await finished(7, h.clock.now() - DAY);
    stop = startRetention(h.db, h.clock, 30, createLogger('silent'), {
      ...LIMITS,
      firstDelayMs: 0,
      intervalMs: 3_600_000,
      continueMs: 20,
    });
    // Four passes of at most 10 rows; the hourly interval would take three hours.
    await until('every old delivery pruned', async () => (await left(old)) === 0, 5_000);
    expect(await left(recent)).toBe(7);
    const attempts = await h.db
      .selectFrom('delivery_attempts')
      .innerJoin('deliveries', 'deliveries.id', 'delivery_attempts.delivery_id')
      .select('delivery_attempts.id')
      .where('deliveries.webhook_id', '=', recent)
      .execute();
    expect(attempts).toHaveLength(7);
  });
});
