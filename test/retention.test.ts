/**
 * The retention pass over more old rows than one pass may delete: the next
 * pass follows shortly, not after the hourly interval, until none is left.
 * Events go after their deliveries, never while a delivery refers to one
 * (docs/operations.md, "Retention").
 */
import { afterEach, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { pruneOnce, startRetention } from '../src/cli/retention.js';
import { deliveryBody } from '../src/delivery/queue/body.js';
import { emitEvents } from '../src/events/outbox.js';
import { newId } from '../src/ids.js';
import { createLogger } from '../src/logger.js';
import { forEachDialect, type Org } from './support/harness.js';
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

  /** `count` ticket.created events of the organization stamped at `at`; their ids. */
  const eventsAt = async (org: Org, at: number, count = 1): Promise<string[]> => {
    const clock = new ManualClock(at);
    const stored = await h.db.transaction().execute((trx) =>
      emitEvents(
        trx,
        clock,
        Array.from({ length: count }, (_, i) => ({
          type: 'ticket.created' as const,
          organizationId: org.organizationId,
          ticketId: `t${i}`,
          data: { i },
        })),
      ),
    );
    return stored.map((e) => e.id);
  };
  const eventsLeft = async (ids: string[]) =>
    (await h.db.selectFrom('events').select('id').where('id', 'in', ids).execute())
      .map((e) => e.id)
      .sort();
  const deliveryOf = (eventId: string) =>
    h.db
      .selectFrom('deliveries')
      .select(['id', 'status', deliveryBody().as('body')])
      .where('event_id', '=', eventId)
      .executeTakeFirst();
  const finish = (eventId: string, completedAt: number) =>
    h.db
      .updateTable('deliveries')
      .set({ status: 'succeeded', next_attempt_at: null, completed_at: completedAt })
      .where('event_id', '=', eventId)
      .execute();

  it('prunes old events once no delivery refers to them, after the deliveries, keeping the rest', async () => {
    const org = await h.createOrg();
    const old = h.clock.now() - 40 * DAY;
    const [orphan] = await eventsAt(org, old); // before any webhook: never had a delivery
    await createWebhook(h, org, { url: 'https://example.com/hook' });
    const [delivered, retrying, lately] = await eventsAt(org, old, 3);
    const [recent] = await eventsAt(org, h.clock.now() - DAY);
    await finish(delivered!, old + 1_000);
    await finish(lately!, h.clock.now() - DAY); // finished a day ago: within the retention
    const all = [orphan!, delivered!, retrying!, lately!, recent!];

    await pruneOnce(h.db, h.clock, 30);
    // The old delivery went, then its event in the same pass; an event still
    // retrying, or delivered lately, stays with its delivery.
    expect(await eventsLeft(all)).toEqual([retrying!, lately!, recent!].sort());
    expect(await deliveryOf(delivered!)).toBeUndefined();
    const pending = await deliveryOf(retrying!);
    expect(pending?.status).toBe('pending');
    // Its body is still the event's.
    expect(JSON.parse(pending!.body).eventId).toBe(retrying);

    // Once its delivery is past the retention too, the event follows it.
    h.clock.advance(30 * DAY);
    await pruneOnce(h.db, h.clock, 30);
    expect(await deliveryOf(lately!)).toBeUndefined();
    expect(await eventsLeft(all)).toEqual([retrying!, recent!].sort());
    // Nothing left behind for the next test's counts.
    await h.db.deleteFrom('deliveries').where('event_id', 'in', all).execute();
    await h.db.deleteFrom('events').where('id', 'in', all).execute();
  });

  it('prunes events in bounded batches, like deliveries', async () => {
    const org = await h.createOrg();
    const ids = await eventsAt(org, h.clock.now() - 40 * DAY, 25);
    await pruneOnce(h.db, h.clock, 30, LIMITS);
    expect(await eventsLeft(ids)).toHaveLength(15);
    stop = startRetention(h.db, h.clock, 30, createLogger('silent'), {
      ...LIMITS,
      firstDelayMs: 0,
      intervalMs: 3_600_000,
      continueMs: 20,
    });
    await until('every old event pruned', async () => (await eventsLeft(ids)).length === 0, 5_000);
  });

  it('prunes finished recoveries after the retention, keeping running ones', async () => {
    const org = await h.createOrg();
    const hook = await createWebhook(h, org, { url: 'https://example.com/hook' });
    const now = h.clock.now();
    const recovery = (status: 'running' | 'done' | 'failed', completedAt: number | null) => ({
      id: newId(),
      organization_id: org.organizationId,
      webhook_id: hook.id,
      since: now - 50 * DAY,
      until: now - 45 * DAY,
      status,
      deliveries_queued: 0,
      cursor_created_at: null,
      cursor_event_id: null,
      error: null,
      created_at: now - 45 * DAY,
      updated_at: now - 45 * DAY,
      completed_at: completedAt,
    });
    const rows = [
      recovery('done', now - 40 * DAY),
      recovery('failed', now - 40 * DAY),
      recovery('done', now - DAY),
      recovery('running', null),
    ];
    await h.db.insertInto('recoveries').values(rows).execute();
    await pruneOnce(h.db, h.clock, 30);
    const left = await h.db
      .selectFrom('recoveries')
      .select('id')
      .where('webhook_id', '=', hook.id)
      .execute();
    expect(left.map((r) => r.id).sort()).toEqual([rows[2]!.id, rows[3]!.id].sort());
  });
});
