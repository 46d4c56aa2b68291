/**
 * Per-webhook rate limits (src/delivery/rate-limit.ts): the schedule's
 * arithmetic, a worker in this process on both dialects, and two `hookdesk
 * worker` processes sharing one PostgreSQL limit. Deliveries over the limit
 * wait as pending rows, are not failed, and leave the worker's slots to
 * other webhooks.
 */
import { describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { burstOf, lateForSlot, scheduleStarts, startsNow } from '../src/delivery/rate-schedule.js';
import { forEachDialect, type Harness, type Org } from './support/harness.js';
import { until, useWorkerProcesses } from './support/processes.js';
import { CA_FILE, useReceiver, type Received } from './support/receiver.js';
import { createWebhook, emitTicketEvents } from './support/webhooks.js';
import { testWorker } from './support/worker.js';

/** The most arrivals within any one second (a sliding window over arrival times). */
function busiestSecond(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! >= 1_000) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

/** Arrivals per second between the first and the last. */
function averageRate(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return ((sorted.length - 1) * 1000) / (sorted[sorted.length - 1]! - sorted[0]!);
}

describe('the rate schedule', () => {
  it('spaces starts 1/limit apart from now, or from where the schedule is', () => {
    expect(scheduleStarts(null, 10_000, 5, 3)).toEqual({
      starts: [10_000, 10_200, 10_400],
      next: 10_600,
    });
    // A schedule ahead of now continues from there.
    expect(scheduleStarts(11_000, 10_000, 5, 2).starts).toEqual([11_000, 11_200]);
    // An idle limit banks nothing: a schedule in the past restarts at now.
    expect(scheduleStarts(1_000, 10_000, 5, 1).starts).toEqual([10_000]);
  });

  it('allows a tenth of a second of burst, none below 10 per second', () => {
    expect(burstOf(1)).toBe(0);
    expect(burstOf(9)).toBe(0);
    expect(burstOf(10)).toBe(1);
    expect(burstOf(10_000)).toBe(1_000);
    expect(startsNow(10_000, 10_000, 5)).toBe(true);
    expect(startsNow(10_001, 10_000, 5)).toBe(false);
    expect(startsNow(10_100, 10_000, 10)).toBe(true);
    expect(startsNow(10_101, 10_000, 10)).toBe(false);
  });

  it('never starts more than twice the limit within a second, whatever the claims', () => {
    // Claims of random sizes at random times, some after a stall of seconds.
    // A charged start goes at once when allowed, else waits reserved; a
    // reserved one is claimed at the first claim after it, and goes if not
    // too late (lateForSlot), else is charged again: as applyRateLimits does.
    let seed = 7;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    for (const limit of [1, 2, 5, 10, 33, 100, 1_000]) {
      let scheduled: number | null = null;
      let now = 0;
      const startedAt: number[] = [];
      let reserved: number[] = [];
      for (let claim = 0; claim < 400; claim++) {
        const stall = random() < 0.03 ? 3_000 : 0;
        now += stall + Math.floor(random() * (2_000 / limit));
        const due = reserved.filter((slot) => slot <= now);
        reserved = reserved.filter((slot) => slot > now);
        const late = due.filter((slot) => lateForSlot(slot, now, limit));
        for (let k = due.length - late.length; k > 0; k--) startedAt.push(now);
        const charged = late.length + 1 + Math.floor(random() * 8);
        const { starts, next } = scheduleStarts(scheduled, now, limit, charged);
        scheduled = next;
        for (const start of starts)
          if (startsNow(start, now, limit)) startedAt.push(now);
          else reserved.push(start);
      }
      expect(busiestSecond(startedAt), `limit ${limit}`).toBeLessThanOrEqual(2 * limit);
    }
  });
});

/** Sets a webhook's limit in its row (the API's field is tested in webhooks-rotation.test.ts). */
async function limit(h: Harness, webhookId: string, perSecond: number | null): Promise<void> {
  await h.db
    .updateTable('webhooks')
    .set({ rate_limit_per_second: perSecond, rate_next_at: null })
    .where('id', '=', webhookId)
    .execute();
}

async function statusCounts(h: Harness, webhookId: string) {
  const rows = await h.db
    .selectFrom('deliveries')
    .select(['status', 'attempt_count'])
    .where('webhook_id', '=', webhookId)
    .execute();
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return { counts, attempts: rows.reduce((n, r) => n + r.attempt_count, 0) };
}

const ENV = { HOOKDESK_EGRESS_ALLOW: '127.0.0.1', HOOKDESK_EGRESS_CA_FILE: CA_FILE };

forEachDialect(
  'per-webhook rate limit',
  (h) => {
    const receiver = useReceiver();

    /** One organization with a limited webhook and an unlimited one. */
    async function setup(
      prefix: string,
      perSecond: number,
    ): Promise<{ org: Org; slow: string; fast: string }> {
      const org = await h.createOrg();
      const slow = await createWebhook(h, org, { url: receiver.url(`/${prefix}/limited`) });
      const fast = await createWebhook(h, org, { url: receiver.url(`/${prefix}/free`) });
      await limit(h, slow.id, perSecond);
      return { org, slow: slow.id, fast: fast.id };
    }
    const arrivals = (path: string) =>
      receiver.received.filter((r: Received) => r.path === path).map((r) => r.at);
    /**
     * When the webhook's attempts started, as recorded: what the limit
     * bounds (arrival times add the receiver's and the network's delays).
     */
    const startsOf = async (webhookId: string) =>
      (
        await h.db
          .selectFrom('delivery_attempts')
          .innerJoin('deliveries', 'deliveries.id', 'delivery_attempts.delivery_id')
          .select('delivery_attempts.started_at')
          .where('deliveries.webhook_id', '=', webhookId)
          .execute()
      ).map((r) => Number(r.started_at));

    it('holds a webhook to its limit while another drains at full speed in the same worker', async () => {
      const { org, slow, fast } = await setup('inproc', 5);
      // 15 events: each makes one delivery to each webhook.
      await emitTicketEvents(h, org.organizationId, 15, 'rl');
      const extra = await h.createOrg();
      const other = await createWebhook(h, extra, { url: receiver.url('/inproc/other') });
      await emitTicketEvents(h, extra.organizationId, 150, 'other');

      // The system clock: the limit's schedule is in real time.
      const worker = testWorker(h, { clock: systemClock, concurrency: 8, pollIntervalMs: 200 });
      const started = Date.now();
      worker.start();
      try {
        await until(
          'the unlimited deliveries',
          () => arrivals('/inproc/other').length >= 150,
          15_000,
        );
        const otherDone = Date.now() - started;
        await until(
          'the limited deliveries',
          () => arrivals('/inproc/limited').length >= 15,
          15_000,
        );
        const limited = arrivals('/inproc/limited');
        expect(arrivals('/inproc/free')).toHaveLength(15);
        expect(otherDone).toBeLessThan(limited.sort((a, b) => a - b).at(-1)! - started);
        // Waiting was never a failure: one attempt each, all succeeded.
        await until(
          'every outcome recorded',
          async () => (await statusCounts(h, slow)).counts.succeeded === 15,
          5_000,
        );
        expect(await statusCounts(h, slow)).toEqual({ counts: { succeeded: 15 }, attempts: 15 });
        // 15 starts 200 ms apart take 2.8 s; the other 165 went meanwhile.
        const starts = await startsOf(slow);
        expect(busiestSecond(starts)).toBeLessThanOrEqual(10);
        expect(averageRate(starts)).toBeLessThanOrEqual(5.25);
        expect((await statusCounts(h, fast)).counts.succeeded).toBe(15);
        expect((await statusCounts(h, other.id)).counts.succeeded).toBe(150);
      } finally {
        await worker.stop();
      }
    }, 40_000);

    it('a removed limit lets waiting deliveries go at once', async () => {
      const { org, slow } = await setup('lifted', 1);
      await emitTicketEvents(h, org.organizationId, 6, 'lift');
      const worker = testWorker(h, { clock: systemClock, concurrency: 8, pollIntervalMs: 200 });
      worker.start();
      try {
        await until(
          'the first limited delivery',
          () => arrivals('/lifted/limited').length >= 1,
          5_000,
        );
        // The rest wait for their starts, a second apart, as pending rows.
        const waiting = await h.db
          .selectFrom('deliveries')
          .select(['status', 'rate_slot', 'next_attempt_at'])
          .where('webhook_id', '=', slow)
          .where('status', '=', 'pending')
          .execute();
        expect(waiting.length).toBeGreaterThanOrEqual(3);
        expect(
          waiting.every((d) => d.rate_slot === 1 && d.next_attempt_at! > Date.now() - 1_000),
        ).toBe(true);
        // What PATCH does when the limit changes (webhooks.repository.ts): waiting rows are due now.
        await limit(h, slow, null);
        await h.db
          .updateTable('deliveries')
          .set({ next_attempt_at: Date.now(), rate_slot: 0 })
          .where('webhook_id', '=', slow)
          .where('status', '=', 'pending')
          .where('rate_slot', '=', 1)
          .execute();
        const lifted = Date.now();
        await until('the rest', () => arrivals('/lifted/limited').length >= 6, 5_000);
        expect(Date.now() - lifted).toBeLessThan(3_000);
      } finally {
        await worker.stop();
      }
    }, 20_000);

    if (h.dialect === 'postgres') {
      const processes = useWorkerProcesses();

      it('two worker processes share one limit: 100 deliveries at 5/s, never 10 in a second', async () => {
        const { org, slow, fast } = await setup('procs', 5);
        await emitTicketEvents(h, org.organizationId, 100, 'procs');
        const workers = processes.start(h.databaseUrl, ['A', 'B']);
        await Promise.all(workers.map((w) => w.waitForLog('delivery worker started')));
        const { describe } = processes;
        await until(
          'the unlimited webhook drained',
          () => arrivals('/procs/free').length >= 100,
          15_000,
          describe,
        );
        await until(
          'the limited webhook drained',
          () => arrivals('/procs/limited').length >= 100,
          40_000,
          describe,
        );
        // Both processes took a share of the limited webhook's attempts.
        const byProcess = workers.map(
          (w) => w.recordedAttempts().filter((l) => l.webhookId === slow).length,
        );
        expect(
          byProcess.every((n) => n > 0),
          byProcess.join(','),
        ).toBe(true);
        await until(
          'every outcome recorded',
          async () => (await statusCounts(h, slow)).counts.succeeded === 100,
          5_000,
        );
        expect(await statusCounts(h, slow)).toEqual({ counts: { succeeded: 100 }, attempts: 100 });
        const starts = await startsOf(slow);
        expect(busiestSecond(starts)).toBeLessThanOrEqual(10);
        expect(averageRate(starts)).toBeLessThanOrEqual(5.1);
        expect((await statusCounts(h, fast)).counts.succeeded).toBe(100);
      }, 90_000);
    }
  },
  ENV,
);
