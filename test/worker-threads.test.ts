/**
 * HOOKDESK_WORKER_THREADS: a `hookdesk worker` process running a second
 * delivery thread (src/cli/server.ts) drains a backlog with both threads,
 * each delivery reaching the receiver exactly once, and stops on SIGTERM.
 *
 * HOOKDESK_WORKER_CONCURRENCY=4 is shared out: each thread holds 2 requests
 * on the wire plus 2 claimed ahead, and the receiver takes 100 ms per
 * request. One thread alone would need 4 s, so the second, started within
 * about a second, gets a share of the backlog.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { splitSlots } from '../src/cli/background.js';
import { loadConfig } from '../src/config.js';
import { forEachDialect } from './support/harness.js';
import { HookdeskProcess, sleep, until } from './support/processes.js';
import { CA_FILE, useReceiver } from './support/receiver.js';
import { createTicket } from './support/webhooks.js';

const TICKETS = 80;
const EGRESS = { HOOKDESK_EGRESS_ALLOW: '127.0.0.1', HOOKDESK_EGRESS_CA_FILE: CA_FILE };

forEachDialect(
  'hookdesk worker with HOOKDESK_WORKER_THREADS=2',
  (h) => {
    const receiver = useReceiver();
    let worker: HookdeskProcess | null = null;

    afterEach(async () => {
      if (worker?.running) await worker.kill();
      worker = null;
    });

    it('delivers a backlog once each with both threads and stops on SIGTERM', async () => {
      receiver.respond = () => ({ status: 200, body: 'ok', delayMs: 100 });
      const org = await h.createOrg();
      const hook = await h.request({
        method: 'POST',
        url: '/api/webhooks',
        key: org.apiKey,
        payload: { name: 'threads', url: receiver.url('/threads'), events: ['ticket.created'] },
      });
      expect(hook.statusCode, hook.body).toBe(201);
      for (let i = 0; i < TICKETS; i++) await createTicket(h, org, `ticket ${i}`);

      worker = new HookdeskProcess('worker', ['worker'], {
        DATABASE_URL: h.databaseUrl,
        ...EGRESS,
        HOOKDESK_WORKER_THREADS: '2',
        HOOKDESK_WORKER_CONCURRENCY: '4',
        LOG_LEVEL: 'info',
      });
      const arrivals = () => receiver.received.filter((r) => r.path === '/threads');
      await until(
        `${TICKETS} arrivals`,
        () => arrivals().length >= TICKETS,
        60_000,
        () => worker!.describe(),
      );
      await until(
        `${TICKETS} attempt log lines`,
        () => worker!.logged('delivery attempt').length >= TICKETS,
        10_000,
        () => worker!.describe(),
      );
      const ids = arrivals().map((r) => String(r.headers['x-webhook-delivery']));
      expect(new Set(ids).size).toBe(TICKETS);
      expect(ids).toHaveLength(TICKETS);

      // Two delivery workers started, with different lease owners and half the slots each.
      const started = worker.logged('delivery worker started');
      expect(new Set(started.map((l) => l.workerId)).size).toBe(2);
      expect(started.map((l) => [l.concurrency, l.perWebhook])).toEqual([
        [2, 2],
        [2, 2],
      ]);
      const attempts = worker.logged('delivery attempt');
      const byExtraThread = attempts.filter((l) => l.thread === 'delivery').length;
      expect(byExtraThread).toBeGreaterThan(0);
      expect(byExtraThread).toBeLessThan(TICKETS);
      const rows = await h.db
        .selectFrom('deliveries')
        .select(['status'])
        .where('webhook_id', '=', String(hook.json().id))
        .execute();
      expect(rows.filter((r) => r.status === 'succeeded')).toHaveLength(TICKETS);

      worker.child.kill('SIGTERM');
      const exit = await Promise.race([worker.exited, sleep(20_000).then(() => null)]);
      expect(exit?.code, worker.describe()).toBe(0);
    });
  },
  EGRESS,
);

describe('splitSlots', () => {
  const slots = (concurrency: number, threads: number) =>
    splitSlots(
      loadConfig({
        DATABASE_URL: 'sqlite::memory:',
        HOOKDESK_WORKER_CONCURRENCY: String(concurrency),
      }),
      threads,
    );

  it('shares the process-wide slots out as evenly as whole numbers allow', () => {
    expect(slots(32, 1)).toEqual([{ concurrency: 32, perWebhook: 4 }]);
    expect(slots(33, 2)).toEqual([
      { concurrency: 17, perWebhook: 2 },
      { concurrency: 16, perWebhook: 2 },
    ]);
    expect(slots(32, 3).map((s) => [s.concurrency, s.perWebhook])).toEqual([
      [11, 2],
      [11, 1],
      [10, 1],
    ]);
  });

  it('gives every thread at least one slot', () => {
    expect(slots(2, 5).map((s) => [s.concurrency, s.perWebhook])).toEqual(Array(5).fill([1, 1]));
  });
});
