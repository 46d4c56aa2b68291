/**
 * The delivery worker as real processes: `hookdesk worker` children (the CLI
 * through tsx) on the suite's database, delivering to a real HTTPS receiver
 * on loopback. Crash recovery (SIGKILL), graceful drain (SIGTERM), several
 * workers on one PostgreSQL database, and cross-process wake-ups by NOTIFY.
 *
 * Children use the system clock; the harness's manual clock (January 2026)
 * stamps events and first due times, which are therefore already due.
 */
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { emitEvents, type EventInput } from '../src/events/outbox.js';
import { newId } from '../src/ids.js';
import { stop } from './support/cli.js';
import { forEachDialect, type Org } from './support/harness.js';
import { CA_FILE, Receiver, type Received } from './support/receiver.js';
import { HookdeskProcess, sleep, until } from './support/processes.js';
import { createTicket, createWebhook } from './support/webhooks.js';

/** Attempt timeout of the children; their lease is 2 × this + 5 s = 9 s. */
const TIMEOUT_MS = 2_000;
const LEASE_MS = 2 * TIMEOUT_MS + 5_000;

forEachDialect(
  'delivery worker processes',
  (h) => {
    const receiver = new Receiver();
    const workers: HookdeskProcess[] = [];

    const startWorker = (name: string, env: Record<string, string> = {}) => {
      const w = new HookdeskProcess(name, ['worker'], {
        DATABASE_URL: h.databaseUrl,
        HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
        HOOKDESK_EGRESS_CA_FILE: CA_FILE,
        HOOKDESK_DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
        // info: startup and one 'delivery attempt' line per attempt, with the pid.
        LOG_LEVEL: 'info',
        ...env,
      });
      workers.push(w);
      return w;
    };
    const diagnostics = () => workers.map((w) => w.describe()).join('\n');

    /** Three webhooks of a new organization, on receiver paths `/<prefix>/1..3`. */
    const setup = async (prefix: string) => {
      const org = await h.createOrg();
      const hooks = [];
      for (const i of [1, 2, 3])
        hooks.push(
          await createWebhook(h, org, {
            name: `${prefix} ${i}`,
            url: receiver.url(`/${prefix}/${i}`),
            events: ['ticket.created'],
          }),
        );
      return { org, hooks };
    };

    /** `count` ticket.created events in one transaction, as the app would raise them. */
    const emitTickets = (org: Org, count: number, label: string) =>
      h.db.transaction().execute((trx) =>
        emitEvents(
          trx,
          h.clock,
          Array.from({ length: count }, (_, i): EventInput => {
            const ticketId = newId();
            return {
              type: 'ticket.created',
              organizationId: org.organizationId,
              ticketId,
              data: { ticket: { id: ticketId, subject: `${label} ${i}` } },
            };
          }),
        ),
      );

    const deliveriesOfOrg = (org: Org) =>
      h.db
        .selectFrom('deliveries')
        .select(['id', 'webhook_id', 'status', 'attempt_count', 'lease_owner', 'lease_until'])
        .where('organization_id', '=', org.organizationId)
        .execute();

    const countSucceeded = async (org: Org) => {
      const row = await h.db
        .selectFrom('deliveries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('organization_id', '=', org.organizationId)
        .where('status', '=', 'succeeded')
        .executeTakeFirstOrThrow();
      return Number(row.n);
    };

    const attemptsOfOrg = (org: Org) =>
      h.db
        .selectFrom('delivery_attempts')
        .innerJoin('deliveries', 'deliveries.id', 'delivery_attempts.delivery_id')
        .select(['delivery_attempts.delivery_id', 'delivery_attempts.status_code'])
        .where('deliveries.organization_id', '=', org.organizationId)
        .execute();

    /** PostgreSQL sessions of this database that LISTEN for wake-ups (one per live worker). */
    const listeners = async () => {
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and query ilike 'listen %'
      `.execute(h.db);
      return rows[0]!.n;
    };

    const deliveryId = (r: Received) => String(r.headers['x-webhook-delivery']);

    beforeAll(async () => {
      await receiver.start();
    });
    afterAll(async () => {
      await receiver.close();
    });
    beforeEach(() => {
      receiver.respond = () => ({ status: 200 });
    });
    afterEach(async () => {
      // SIGTERM, then SIGKILL after 5 s (support/cli.ts `stop`).
      await Promise.all(workers.splice(0).map((w) => stop(w.child)));
      // Leave an empty queue to the next test, whatever this one left behind.
      await h.db
        .updateTable('deliveries')
        .set({ status: 'cancelled', lease_owner: null, lease_until: null, next_attempt_at: null })
        .where('status', 'in', ['pending', 'delivering'])
        .execute();
    });

    if (h.dialect === 'postgres') {
      it('two worker processes deliver 3,000 deliveries, each exactly once and never twice at a time', async () => {
        const { org, hooks } = await setup('load');
        const before = receiver.received.length;
        const inFlight = new Map<string, number>();
        const overlapped = new Set<string>();
        receiver.respond = (req) => {
          const id = deliveryId(req);
          const n = (inFlight.get(id) ?? 0) + 1;
          inFlight.set(id, n);
          if (n > 1) overlapped.add(id);
          const delayMs = Math.floor(Math.random() * 21);
          // Answered when the receiver's own timer of the same delay fires.
          setTimeout(() => inFlight.set(id, inFlight.get(id)! - 1), delayMs);
          return { status: 200, body: 'ok', delayMs };
        };

        const a = startWorker('A');
        const b = startWorker('B');
        await Promise.all([a, b].map((w) => w.waitForLog('delivery worker started')));
        await until('both workers to LISTEN', async () => (await listeners()) >= 2, 10_000);

        const started = Date.now();
        for (let batch = 0; batch < 4; batch++) await emitTickets(org, 250, `Load ${batch}`);
        const rows = await deliveriesOfOrg(org);
        expect(rows).toHaveLength(3_000);
        await until(
          'all 3,000 deliveries to succeed',
          async () => (await countSucceeded(org)) === 3_000,
          90_000,
          diagnostics,
          250,
        );
        const elapsed = Date.now() - started;
        // The log line follows the commit of its outcome.
        await until(
          'every attempt to be logged',
          () => a.recordedAttempts().length + b.recordedAttempts().length >= 3_000,
          10_000,
          diagnostics,
        );

        const ids = new Set(rows.map((r) => r.id));
        const got = receiver.received.slice(before);
        const arrivals = new Map<string, number>();
        for (const r of got) arrivals.set(deliveryId(r), (arrivals.get(deliveryId(r)) ?? 0) + 1);
        // Every delivery arrived, nothing else did, and none twice (no lease ran out).
        expect(new Set(arrivals.keys())).toEqual(ids);
        expect(got).toHaveLength(3_000);
        expect([...overlapped]).toEqual([]);
        for (const [i, hook] of hooks.entries()) {
          const toHook = got.filter((r) => r.path === `/load/${i + 1}`).map(deliveryId);
          expect(new Set(toHook)).toEqual(
            new Set(rows.filter((d) => d.webhook_id === hook.id).map((d) => d.id)),
          );
        }

        const final = await deliveriesOfOrg(org);
        expect(final.filter((d) => d.status !== 'succeeded' || d.attempt_count !== 1)).toEqual([]);
        const attempts = await attemptsOfOrg(org);
        expect(attempts).toHaveLength(3_000);
        expect(attempts.every((t) => t.status_code === 200)).toBe(true);

        // Each child logged its own attempts (pino's pid); both did a share of the work.
        const byA = a.recordedAttempts();
        const byB = b.recordedAttempts();
        expect(byA.every((l) => l.pid === a.child.pid && l.status === 'succeeded')).toBe(true);
        expect(byB.every((l) => l.pid === b.child.pid && l.status === 'succeeded')).toBe(true);
        expect(byA.length, `A recorded ${byA.length}, B ${byB.length}`).toBeGreaterThan(0);
        expect(byB.length, `A recorded ${byA.length}, B ${byB.length}`).toBeGreaterThan(0);
        expect(byA.length + byB.length).toBe(3_000);
        expect(new Set([...byA, ...byB].map((l) => l.deliveryId))).toEqual(ids);
        // No attempt found its lease taken by the other worker (no "recorded: false" lines).
        for (const w of [a, b])
          expect(w.lines.filter((l) => l.msg === 'delivery attempt' && !l.recorded)).toEqual([]);
        expect(elapsed).toBeLessThan(90_000);
      }, 150_000);
    }

    it('after SIGKILL mid-attempt, another process re-sends exactly what was in flight once the lease runs out, and loses nothing', async () => {
      const { org } = await setup('kill');
      await emitTickets(org, 4, 'Kill'); // 12 deliveries
      const all = new Set((await deliveriesOfOrg(org)).map((d) => d.id));
      expect(all.size).toBe(12);
      let hang = true;
      receiver.respond = () => (hang ? { hang: true } : { status: 200, body: 'ok' });
      const before = receiver.received.length;

      const a = startWorker('A', { HOOKDESK_WORKER_CONCURRENCY: '4' });
      await until(
        'worker A to have 4 attempts hanging at the receiver',
        () => receiver.received.length - before >= 4,
        30_000,
        diagnostics,
        10,
      );
      a.child.kill('SIGKILL');
      const killed = await a.exited;
      expect(killed.signal).toBe('SIGKILL');
      const hung = receiver.received.slice(before);
      // Within A's 2 s attempt timeout: A had recorded nothing when it died.
      expect(killed.at - hung[0]!.at).toBeLessThan(TIMEOUT_MS);
      const inFlight = new Set(hung.map(deliveryId));
      expect(inFlight.size).toBe(4);
      const held = (await deliveriesOfOrg(org)).filter((d) => inFlight.has(d.id));
      for (const d of held) {
        expect(d).toMatchObject({ status: 'delivering', attempt_count: 0 });
        expect(d.lease_owner).toContain(`:${a.child.pid}:`);
      }

      hang = false;
      const b = startWorker('B');
      await until(
        'all 12 deliveries to succeed',
        async () => (await countSucceeded(org)) === 12,
        30_000,
        diagnostics,
        100,
      );

      const got = receiver.received.slice(before);
      const arrivals = new Map<string, Received[]>();
      for (const r of got) arrivals.set(deliveryId(r), [...(arrivals.get(deliveryId(r)) ?? []), r]);
      expect(new Set(arrivals.keys())).toEqual(all);
      for (const [id, reqs] of arrivals) {
        if (inFlight.has(id)) {
          // Once to A (never answered), once to B after A's lease ran out.
          expect(reqs, id).toHaveLength(2);
          expect(reqs[1]!.at - reqs[0]!.at).toBeGreaterThanOrEqual(LEASE_MS - 2_000);
        } else expect(reqs, id).toHaveLength(1);
      }
      const final = await deliveriesOfOrg(org);
      expect(final.filter((d) => d.status !== 'succeeded' || d.attempt_count !== 1)).toEqual([]);
      expect(await attemptsOfOrg(org)).toHaveLength(12);
      await until('B to log all 12 attempts', () => b.recordedAttempts().length === 12, 5_000);
    }, 60_000);

    it('SIGTERM drains: attempts in flight finish and are recorded, nothing new is claimed, exit code 0', async () => {
      const { org } = await setup('drain');
      await emitTickets(org, 3, 'Drain'); // 9 deliveries
      receiver.respond = () => ({ status: 200, body: 'slow ok', delayMs: 1_000 });
      const before = receiver.received.length;

      // The 1 s answers make these webhooks slow: without the whole share, one
      // organization would have only a quarter of the slots (src/delivery/fairness.ts).
      const w = startWorker('drain', {
        HOOKDESK_WORKER_CONCURRENCY: '6',
        HOOKDESK_WORKER_SLOW_SHARE: '100',
      });
      await until(
        'the worker to have 6 attempts in flight',
        () => receiver.received.length - before >= 6,
        30_000,
        diagnostics,
        10,
      );
      const inFlight = new Set(receiver.received.slice(before).map(deliveryId));
      expect(inFlight.size).toBe(6);
      const termAt = Date.now();
      w.child.kill('SIGTERM');
      const exit = await Promise.race([w.exited, sleep(10_000).then(() => null)]);
      expect(exit, `no exit within 10 s of SIGTERM\n${w.describe()}`).not.toBeNull();
      expect(exit!.code, w.describe()).toBe(0);
      // It waited for the ~1 s answers, and no longer than its drain bound (timeout + 2 s).
      expect(exit!.at - termAt).toBeLessThan(TIMEOUT_MS + 2_000 + 2_000);

      expect(receiver.received.length - before).toBe(6);
      const final = await deliveriesOfOrg(org);
      expect(final.filter((d) => d.status === 'delivering')).toEqual([]);
      for (const d of final) {
        if (inFlight.has(d.id))
          expect(d, d.id).toMatchObject({ status: 'succeeded', attempt_count: 1 });
        else
          expect(d, d.id).toMatchObject({ status: 'pending', attempt_count: 0, lease_owner: null });
      }
      expect(w.recordedAttempts()).toHaveLength(6);
      expect(w.lines.some((l) => String(l.msg).includes('claims were released'))).toBe(false);
    }, 60_000);

    if (h.dialect === 'postgres') {
      it('an idle worker process is woken by NOTIFY: a new ticket is delivered well within its 5 s poll', async () => {
        const org = await h.createOrg();
        const hook = await createWebhook(h, org, {
          url: receiver.url('/wake'),
          events: ['ticket.created'],
        });
        await until(
          'no listener left from earlier workers',
          async () => (await listeners()) === 0,
          10_000,
        );
        const w = startWorker('idle');
        await w.waitForLog('delivery worker started');
        await until(
          'the worker to LISTEN',
          async () => (await listeners()) === 1,
          10_000,
          diagnostics,
        );
        // Its first pass found nothing; it now sleeps for the 5 s poll interval.
        await sleep(1_000);

        const before = receiver.received.length;
        const createdAt = Date.now();
        const ticket = await createTicket(h, org);
        await receiver.waitFor(before + 1, 5_000);
        const req = receiver.received[before]!;
        const latency = req.at - createdAt;
        expect(latency).toBeLessThan(1_500);
        expect(req.path).toBe('/wake');
        expect(JSON.parse(req.body.toString('utf8')).data.ticket.id).toBe(ticket.id);
        await until(
          'the delivery to be recorded',
          async () => (await countSucceeded(org)) === 1,
          5_000,
          diagnostics,
        );
        const [delivery] = await deliveriesOfOrg(org);
        expect(delivery).toMatchObject({ webhook_id: hook.id, status: 'succeeded' });
        expect(deliveryId(req)).toBe(delivery!.id);
      }, 60_000);
    }
  },
  { HOOKDESK_EGRESS_ALLOW: '127.0.0.1', HOOKDESK_EGRESS_CA_FILE: CA_FILE },
);
