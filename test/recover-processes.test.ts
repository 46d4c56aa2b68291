/**
 * A recovery (docs/api.md, "Recovering a time range") run by real `hookdesk
 * worker` children: one is killed (SIGKILL) mid-recovery, another resumes
 * from the cursor the last committed batch left, and every event of the
 * range ends with exactly one delivery, sent to an HTTPS receiver on
 * loopback.
 *
 * The children use the system clock; the harness's manual clock (January
 * 2026) stamps the events, the recovery and its job, which are therefore
 * already due for them.
 */
import { expect, it } from 'vitest';
import { iso } from '../src/clock.js';
import { emitEvents } from '../src/events/outbox.js';
import { RECOVERY_JOB_KIND } from '../src/webhooks/recover.js';
import { forEachDialect } from './support/harness.js';
import { useWorkerProcesses } from './support/processes.js';
import { CA_FILE, useReceiver } from './support/receiver.js';
import { until } from './support/wait.js';
import { createWebhook } from './support/webhooks.js';

/** Ten batches of the default 500: the kill lands after the first and well before the last. */
const TOTAL = 5_000;

forEachDialect(
  'recovery in worker processes',
  (h) => {
    const receiver = useReceiver();
    const procs = useWorkerProcesses();

    it('a worker killed mid-recovery: another goes on from the cursor, and each event is queued and sent once', async () => {
      receiver.respond = () => ({ status: 200 });
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/resume'),
        events: ['ticket.created'],
        active: false,
      });
      const base = `/api/webhooks/${hook.id}`;
      const since = h.clock.now();
      for (let batch = 0; batch < TOTAL / 500; batch++) {
        await h.db.transaction().execute((trx) =>
          emitEvents(
            trx,
            h.clock,
            Array.from({ length: 500 }, (_, i) => ({
              type: 'ticket.created' as const,
              organizationId: org.organizationId,
              ticketId: `t-${batch}-${i}`,
              data: { batch, i },
            })),
          ),
        );
        h.clock.advance(10);
      }
      const events = await h.db
        .selectFrom('events')
        .select('id')
        .where('organization_id', '=', org.organizationId)
        .execute();
      expect(events).toHaveLength(TOTAL);
      const patch = await h.request({
        method: 'PATCH',
        url: base,
        key: org.apiKey,
        payload: { active: true },
      });
      expect(patch.statusCode, patch.body).toBe(200);
      h.clock.advance(60_000);

      const res = await h.request({
        method: 'POST',
        url: `${base}/recover`,
        key: org.apiKey,
        payload: { since: iso(since) },
      });
      expect(res.statusCode, res.body).toBe(202);
      const id = res.json().id as string;
      const recovery = () =>
        h.db.selectFrom('recoveries').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

      const env = { HOOKDESK_DELIVERY_TIMEOUT_MS: '2000' };
      const [a] = procs.start(h.databaseUrl, ['A'], env);
      await until(
        'worker A to commit a batch of the recovery',
        async () => (await recovery()).deliveries_queued > 0,
        30_000,
        procs.describe,
        5,
      );
      a!.child.kill('SIGKILL');
      expect((await a!.exited).signal).toBe('SIGKILL');
      const mid = await recovery();
      expect(mid.status).toBe('running');
      expect(mid.deliveries_queued).toBeGreaterThan(0);
      expect(mid.deliveries_queued).toBeLessThan(TOTAL);
      expect(mid.cursor_event_id).not.toBeNull();

      // A's job (and any delivery it had in flight) stays leased to the dead
      // process until its lease runs out, 2 minutes for a job; end those
      // leases now rather than wait, as the clock passing them would.
      const held = await h.db
        .updateTable('jobs')
        .set({ lease_until: 0 })
        .where('organization_id', '=', org.organizationId)
        .where('kind', '=', RECOVERY_JOB_KIND)
        .where('status', '=', 'running')
        .executeTakeFirst();
      expect(Number(held.numUpdatedRows)).toBe(1);
      await h.db
        .updateTable('deliveries')
        .set({ lease_until: 0 })
        .where('webhook_id', '=', hook.id)
        .where('status', '=', 'delivering')
        .execute();

      procs.start(h.databaseUrl, ['B'], env);
      await until(
        'worker B to finish the recovery',
        async () => (await recovery()).status === 'done',
        60_000,
        procs.describe,
        50,
      );
      const done = await recovery();
      // Each batch counted once: the count is the range's size, as if never interrupted.
      expect(done.deliveries_queued).toBe(TOTAL);
      const rows = await h.db
        .selectFrom('deliveries')
        .select(['id', 'event_id', 'status'])
        .where('webhook_id', '=', hook.id)
        .execute();
      expect(rows).toHaveLength(TOTAL);
      expect(new Set(rows.map((d) => d.event_id))).toEqual(new Set(events.map((e) => e.id)));

      const succeeded = async () =>
        Number(
          (
            await h.db
              .selectFrom('deliveries')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where('webhook_id', '=', hook.id)
              .where('status', '=', 'succeeded')
              .executeTakeFirstOrThrow()
          ).n,
        );
      await until(
        'every recovered delivery to succeed',
        async () => (await succeeded()) === TOTAL,
        90_000,
        procs.describe,
        250,
      );
      // Every event arrived; an event's requests all carry its one delivery id
      // (a delivery A had in flight when killed may arrive twice: at least once).
      const byEvent = new Map<string, Set<string>>();
      for (const r of receiver.received.filter((x) => x.path === '/resume')) {
        const eventId = JSON.parse(r.body.toString('utf8')).eventId as string;
        const ids = byEvent.get(eventId) ?? new Set<string>();
        ids.add(String(r.headers['x-webhook-delivery']));
        byEvent.set(eventId, ids);
      }
      expect(byEvent.size).toBe(TOTAL);
      expect([...byEvent.values()].filter((ids) => ids.size !== 1)).toEqual([]);
    }, 180_000);
  },
  { HOOKDESK_EGRESS_ALLOW: '127.0.0.1', HOOKDESK_EGRESS_CA_FILE: CA_FILE },
);
