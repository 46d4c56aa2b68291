/**
 * Recovering a time range (docs/api.md, "Recovering a time range") end to
 * end: the API stores the recovery and its job, the real job runner walks
 * the range, the real delivery worker sends what it queued to an HTTPS
 * receiver on loopback, all on a manual clock. Process kills are in
 * test/recover-processes.test.ts; bad input in test/bad-input-recover.test.ts.
 */
import { expect, it } from 'vitest';
import { iso } from '../src/clock.js';
import { emitEvents, type EventInput } from '../src/events/outbox.js';
import { enqueueJob } from '../src/jobs/queue.js';
import { JobRunner } from '../src/jobs/runner.js';
import { createLogger } from '../src/logger.js';
import {
  DISABLED_DURING_RECOVERY,
  RECOVERY_JOB_KIND,
  recoveryJobHandlers,
  type RecoveryLimits,
} from '../src/webhooks/recover.js';
import { forEachDialect, type Org } from './support/harness.js';
import { CA_FILE, useReceiver, type Received } from './support/receiver.js';
import {
  agentKey,
  attemptsOf,
  createSurvey,
  createWebhook,
  deliveriesOf,
} from './support/webhooks.js';
import { until } from './support/wait.js';
import { testWorker } from './support/worker.js';

const ENV = {
  HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
  HOOKDESK_EGRESS_CA_FILE: CA_FILE,
  HOOKDESK_DELIVERY_TIMEOUT_MS: '1500',
};
const MINUTE = 60_000;

forEachDialect(
  'recovering a time range',
  (h) => {
    const receiver = useReceiver();

    const jobRunner = (limits: Partial<RecoveryLimits> = {}) => {
      const deps = { database: h.database, clock: h.clock, logger: createLogger('silent') };
      return new JobRunner({ ...deps, handlers: recoveryJobHandlers(deps, limits) });
    };

    /** Runs the worker pass by pass until nothing is due; bounded in passes. */
    const drain = async (max = 1_000) => {
      const worker = testWorker(h);
      let sent = 0;
      for (let i = 0; i < max; i++) {
        const n = await worker.runOnce();
        if (n === 0) return sent;
        sent += n;
      }
      throw new Error(`the worker was still busy after ${max} passes`);
    };

    /** Events of the organization, one transaction; returns their ids in order. */
    const emit = async (org: Org, inputs: EventInput[]): Promise<string[]> => {
      const stored = await h.db.transaction().execute((trx) => emitEvents(trx, h.clock, inputs));
      return stored.map((e) => e.id);
    };
    const tickets = (org: Org, count: number, type: EventInput['type'] = 'ticket.created') =>
      emit(
        org,
        Array.from({ length: count }, (_, i) => ({
          type,
          organizationId: org.organizationId,
          ticketId: `ticket-${i}`,
          data: { i },
        })) as EventInput[],
      );

    const setActive = async (org: Org, base: string, active: boolean) => {
      const res = await h.request({
        method: 'PATCH',
        url: base,
        key: org.apiKey,
        payload: { active },
      });
      expect(res.statusCode, res.body).toBe(200);
    };
    const recover = (org: Org, base: string, body: object, key = org.apiKey) =>
      h.request({ method: 'POST', url: `${base}/recover`, key, payload: body });
    /**
     * A ticket webhook disabled while `count` tickets are created, enabled
     * again a minute later, and a recovery of that range asked for.
     */
    const recoverMissed = async (path: string, count: number) => {
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url(path),
        events: ['ticket.created'],
        active: false,
      });
      const base = `/api/webhooks/${hook.id}`;
      const since = h.clock.now();
      await tickets(org, count);
      h.clock.advance(MINUTE);
      await setActive(org, base, true);
      const res = await recover(org, base, { since: iso(since) });
      return { org, hook, base, res };
    };
    const readRecovery = async (org: Org, base: string, id: string) => {
      const res = await h.request({
        method: 'GET',
        url: `${base}/recoveries/${id}`,
        key: org.apiKey,
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json();
    };
    /** A recovery asked for and run by one job pass, to done with `deliveriesQueued`. */
    const recoverToDone = async (
      org: Org,
      base: string,
      body: object,
      deliveriesQueued: number,
    ) => {
      const res = await recover(org, base, body);
      expect(res.statusCode, res.body).toBe(202);
      await jobRunner().runOnce();
      expect(await readRecovery(org, base, res.json().id)).toMatchObject({
        status: 'done',
        deliveriesQueued,
      });
    };

    const eventIdOf = (r: Received) => JSON.parse(r.body.toString('utf8')).eventId as string;
    /** Event ids received at `path` since `from`, in arrival order. */
    const receivedAt = (path: string, from: number) =>
      receiver.received
        .slice(from)
        .filter((r) => r.path === path)
        .map(eventIdOf);

    it('sends a webhook disabled for a while exactly what it missed, plus its failed and cancelled deliveries, once', async () => {
      const org = await h.createOrg();
      let failing = false;
      receiver.respond = (r) =>
        r.path === '/missed' && failing ? { status: 500 } : { status: 200, body: 'ok' };
      const hook = await createWebhook(h, org, {
        url: receiver.url('/missed'),
        events: ['ticket.created'],
        retryPolicy: [],
      });
      const base = `/api/webhooks/${hook.id}`;

      // Before the range: a failed delivery the recovery must not touch.
      failing = true;
      const [before] = await tickets(org, 1);
      await drain();
      h.clock.advance(MINUTE);
      const since = h.clock.now();

      // In the range: one success, one failure, one cancelled by disabling.
      failing = false;
      const [succeeded] = await tickets(org, 1);
      await drain();
      failing = true;
      const [failed] = await tickets(org, 1);
      await drain();
      const [cancelled] = await tickets(org, 1);
      await setActive(org, base, false);
      // Disabled: events occur, and no delivery is made of them.
      const missed = await tickets(org, 2);
      await tickets(org, 1, 'ticket.assigned'); // not subscribed to
      await setActive(org, base, true);
      h.clock.advance(MINUTE);

      const rows = await deliveriesOf(h, hook.id);
      const statusOf = (eventId: string) => rows.find((d) => d.event_id === eventId)?.status;
      expect([before, succeeded, failed, cancelled].map((e) => statusOf(e!))).toEqual([
        'failed',
        'succeeded',
        'failed',
        'cancelled',
      ]);
      expect(rows).toHaveLength(4);

      const res = await recover(org, base, { since: iso(since) });
      expect(res.statusCode, res.body).toBe(202);
      const started = res.json();
      expect(started).toEqual({
        id: expect.any(String),
        webhookId: hook.id,
        since: iso(since),
        until: iso(h.clock.now()),
        status: 'running',
        deliveriesQueued: 0,
        error: null,
        createdAt: iso(h.clock.now()),
        completedAt: null,
      });
      expect(await readRecovery(org, base, started.id)).toEqual(started);

      expect(await jobRunner().runOnce()).toBe(1);
      const done = await readRecovery(org, base, started.id);
      expect(done).toMatchObject({
        status: 'done',
        deliveriesQueued: 4,
        error: null,
        completedAt: iso(h.clock.now()),
      });

      failing = false;
      const mark = receiver.received.length;
      expect(await drain()).toBe(4);
      const got = receivedAt('/missed', mark);
      expect(got.sort()).toEqual([failed, cancelled, ...missed].sort());

      // The failed one went on from its attempt count, with the whole (empty) policy again.
      const again = (await deliveriesOf(h, hook.id)).find((d) => d.event_id === failed)!;
      expect(again).toMatchObject({ status: 'succeeded', attempt_count: 2, attempts_allowed: 2 });
      expect((await attemptsOf(h, again.id)).map((a) => [a.number, a.status_code])).toEqual([
        [1, 500],
        [2, 200],
      ]);
      expect(statusOf(before!)).toBe('failed');
      expect((await deliveriesOf(h, hook.id)).find((d) => d.event_id === before)!.status).toBe(
        'failed',
      );
      // One delivery per event, the new ones included.
      const after = await deliveriesOf(h, hook.id);
      expect(after).toHaveLength(6);
      expect(new Set(after.map((d) => d.event_id)).size).toBe(6);

      // The same range again: nothing left to queue, nothing sent.
      await recoverToDone(org, base, { since: iso(since) }, 0);
      const mark2 = receiver.received.length;
      expect(await drain()).toBe(0);
      expect(receiver.received.length).toBe(mark2);
    });

    it('walks a range of more events than a batch, batch by batch, showing its progress', async () => {
      const org = await h.createOrg();
      receiver.respond = () => ({ status: 200 });
      const hook = await createWebhook(h, org, {
        url: receiver.url('/many'),
        events: ['ticket.created'],
        active: false,
      });
      const base = `/api/webhooks/${hook.id}`;
      await tickets(org, 3); // before the range
      h.clock.advance(MINUTE);
      const since = h.clock.now();
      const inRange: string[] = [];
      for (let i = 0; i < 5; i++) {
        inRange.push(...(await tickets(org, 240)));
        h.clock.advance(1_000);
      }
      const until = h.clock.now();
      await tickets(org, 3); // at `until`: excluded
      h.clock.advance(MINUTE);
      await setActive(org, base, true);

      const res = await recover(org, base, { since: iso(since), until: iso(until) });
      expect(res.statusCode, res.body).toBe(202);
      const id = res.json().id as string;
      // A budget of 0: each run does one batch and hands the rest to a new job.
      const runner = jobRunner({ batchSize: 500, runBudgetMs: 0 });
      const progress: [string, number][] = [];
      for (let i = 0; i < 10; i++) {
        const ran = await runner.runOnce();
        const r = await readRecovery(org, base, id);
        progress.push([r.status, r.deliveriesQueued]);
        if (r.status !== 'running' || ran === 0) break;
      }
      expect(progress).toEqual([
        ['running', 500],
        ['running', 1_000],
        ['done', 1_200],
      ]);
      const recovery = await h.db
        .selectFrom('recoveries')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(recovery.cursor_event_id).toBe(inRange.at(-1));

      const mark = receiver.received.length;
      expect(await drain()).toBe(1_200);
      const got = receivedAt('/many', mark);
      expect(got).toHaveLength(1_200);
      expect(new Set(got)).toEqual(new Set(inRange));
      // The recovery's jobs all ended well: one per run.
      const jobs = await h.db
        .selectFrom('jobs')
        .select('status')
        .where('organization_id', '=', org.organizationId)
        .where('kind', '=', RECOVERY_JOB_KIND)
        .execute();
      expect(jobs.map((j) => j.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    });

    it('recovers a survey webhook from its own survey’s events only', async () => {
      const org = await h.createOrg();
      receiver.respond = () => ({ status: 200 });
      const survey = await createSurvey(h, org);
      const other = await createSurvey(h, org);
      const created = await h.request({
        method: 'POST',
        url: `/api/surveys/${survey}/webhooks`,
        key: org.apiKey,
        payload: { name: 'results', url: receiver.url('/survey'), active: false },
      });
      expect(created.statusCode, created.body).toBe(201);
      const base = `/api/surveys/${survey}/webhooks/${created.json().id}`;
      const since = h.clock.now();
      const answer = async (surveyId: string) => {
        const res = await h.request({
          method: 'POST',
          url: `/api/surveys/${surveyId}/responses`,
          key: org.apiKey,
          payload: { answers: { score: { value: 5 } } },
        });
        expect(res.statusCode, res.body).toBe(201);
      };
      await answer(survey);
      await answer(survey);
      await answer(other);
      await tickets(org, 2);
      h.clock.advance(MINUTE);
      await setActive(org, base, true);

      // Under the other collection, the webhook does not exist.
      const wrong = await recover(org, `/api/webhooks/${created.json().id}`, {
        since: iso(since),
      });
      expect(wrong.statusCode).toBe(404);

      await recoverToDone(org, base, { since: iso(since) }, 2);
      const mark = receiver.received.length;
      expect(await drain()).toBe(2);
      const events = await h.db
        .selectFrom('events')
        .select('id')
        .where('survey_id', '=', survey)
        .execute();
      expect(receivedAt('/survey', mark).sort()).toEqual(events.map((e) => e.id).sort());
    });

    it('applies the webhook’s payload filter and ordering to the deliveries it creates, as the fan-out does', async () => {
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/filtered'),
        events: ['ticket.created'],
        filter: { 'data.i': { $gte: 2 } },
        ordering: 'ticket',
        active: false,
      });
      const base = `/api/webhooks/${hook.id}`;
      const since = h.clock.now();
      const ids = await tickets(org, 5); // data.i 0..4, tickets ticket-0..4
      await setActive(org, base, true);
      h.clock.advance(MINUTE);
      await recoverToDone(org, base, { since: iso(since) }, 3);
      const rows = await deliveriesOf(h, hook.id);
      expect(rows.map((d) => [d.event_id, d.order_key]).sort()).toEqual(
        [2, 3, 4].map((i) => [ids[i], `ticket-${i}`]).sort(),
      );
      await setActive(org, base, false); // cancels them: nothing for the next test's worker
    });

    it('answers 409 webhook_inactive for a webhook that is not active, 403 to an agent, 404 for another webhook’s recovery', async () => {
      const org = await h.createOrg();
      const inactive = await createWebhook(h, org, {
        url: receiver.url('/off'),
        events: ['ticket.created'],
        active: false,
      });
      const since = iso(h.clock.now() - MINUTE);
      const res = await recover(org, `/api/webhooks/${inactive.id}`, { since });
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json().error.code).toBe('webhook_inactive');
      const stored = await h.db
        .selectFrom('recoveries')
        .select('id')
        .where('organization_id', '=', org.organizationId)
        .execute();
      expect(stored).toEqual([]);
      const jobs = await h.db
        .selectFrom('jobs')
        .select('id')
        .where('organization_id', '=', org.organizationId)
        .execute();
      expect(jobs).toEqual([]);

      const active = await createWebhook(h, org, {
        url: receiver.url('/on'),
        events: ['ticket.created'],
      });
      const agent = await agentKey(h, org);
      const forbidden = await recover(org, `/api/webhooks/${active.id}`, { since }, agent);
      expect(forbidden.statusCode).toBe(403);
      const ok = await recover(org, `/api/webhooks/${active.id}`, { since });
      expect(ok.statusCode, ok.body).toBe(202);
      const read = (hookId: string, key = org.apiKey) =>
        h.request({
          method: 'GET',
          url: `/api/webhooks/${hookId}/recoveries/${ok.json().id}`,
          key,
        });
      expect((await read(active.id)).statusCode).toBe(200);
      expect((await read(active.id, agent)).statusCode).toBe(403);
      expect((await read(inactive.id)).statusCode).toBe(404);
      const stranger = await h.createOrg();
      expect((await read(active.id, stranger.apiKey)).statusCode).toBe(404);
      await jobRunner().runOnce();
    });

    it('stops as failed with an error when the webhook is disabled during the recovery', async () => {
      const { org, hook, base, res } = await recoverMissed('/stopped', 30);
      expect(res.statusCode, res.body).toBe(202);
      const runner = jobRunner({ batchSize: 10, runBudgetMs: 0 });
      await runner.runOnce();
      expect(await readRecovery(org, base, res.json().id)).toMatchObject({
        status: 'running',
        deliveriesQueued: 10,
      });
      await setActive(org, base, false);
      h.clock.advance(1_000);
      await runner.runOnce();
      expect(await readRecovery(org, base, res.json().id)).toMatchObject({
        status: 'failed',
        deliveriesQueued: 10,
        error: DISABLED_DURING_RECOVERY,
        completedAt: iso(h.clock.now()),
      });
      // Disabling cancelled what the first batch queued; nothing more was queued.
      const rows = await deliveriesOf(h, hook.id);
      expect(rows.map((d) => d.status)).toEqual(Array(10).fill('cancelled'));
      expect(await runner.runOnce()).toBe(0);
    });

    it('ends quietly when the webhook is deleted during the recovery: the recovery goes with it', async () => {
      const { org, base, res } = await recoverMissed('/deleted', 30);
      const runner = jobRunner({ batchSize: 10, runBudgetMs: 0 });
      await runner.runOnce();
      const del = await h.request({ method: 'DELETE', url: base, key: org.apiKey });
      expect(del.statusCode).toBe(204);
      await runner.runOnce();
      const left = await h.db
        .selectFrom('recoveries')
        .select('id')
        .where('id', '=', res.json().id)
        .execute();
      expect(left).toEqual([]);
      const jobs = await h.db
        .selectFrom('jobs')
        .select('status')
        .where('organization_id', '=', org.organizationId)
        .where('kind', '=', RECOVERY_JOB_KIND)
        .execute();
      expect(jobs.map((j) => j.status).sort()).toEqual(['succeeded', 'succeeded']);
    });

    it('a job runner that stops mid-recovery hands the rest to a new job, which finishes it', async () => {
      const { org, hook, base, res } = await recoverMissed('/handed-over', 300);
      const id = res.json().id as string;
      const queued = async () =>
        (
          await h.db
            .selectFrom('recoveries')
            .select('deliveries_queued')
            .where('id', '=', id)
            .executeTakeFirstOrThrow()
        ).deliveries_queued;
      // Long pauses between batches of 50: the stop lands between two of them.
      const runner = jobRunner({ batchSize: 50, pauseFactor: 200 });
      runner.start();
      await until(
        'the first batch',
        async () => (await queued()) > 0,
        10_000,
        () => '',
        5,
      );
      await runner.stop();
      const left = await readRecovery(org, base, id);
      expect(left.status).toBe('running');
      expect(left.deliveriesQueued).toBeLessThan(300);
      const jobs = () =>
        h.db
          .selectFrom('jobs')
          .select('status')
          .where('organization_id', '=', org.organizationId)
          .where('kind', '=', RECOVERY_JOB_KIND)
          .orderBy('id')
          .execute();
      expect((await jobs()).map((j) => j.status)).toEqual(['succeeded', 'pending']);
      await jobRunner().runOnce();
      expect(await readRecovery(org, base, id)).toMatchObject({
        status: 'done',
        deliveriesQueued: 300,
      });
      const rows = await deliveriesOf(h, hook.id);
      expect(new Set(rows.map((d) => d.event_id)).size).toBe(300);
      expect(rows).toHaveLength(300);
      await setActive(org, base, false); // cancels them: nothing for the next test's worker
    });

    it('two runs of one recovery at once queue each event once', async () => {
      const { org, hook, base, res } = await recoverMissed('/twice', 600);
      expect(res.statusCode, res.body).toBe(202);
      const id = res.json().id as string;
      // A second job of the same recovery, as a run whose lease ran out would leave.
      await h.db.transaction().execute((trx) =>
        enqueueJob(trx, h.clock.now(), {
          organizationId: org.organizationId,
          kind: RECOVERY_JOB_KIND,
          payload: { recoveryId: id, webhookId: hook.id },
          runAt: h.clock.now(),
        }),
      );
      const limits = { batchSize: 50, pauseFactor: 0 };
      const [a, b] = await Promise.all([jobRunner(limits).runOnce(), jobRunner(limits).runOnce()]);
      expect(a + b).toBe(2);
      expect(await readRecovery(org, base, id)).toMatchObject({
        status: 'done',
        deliveriesQueued: 600,
      });
      const rows = await deliveriesOf(h, hook.id);
      expect(rows).toHaveLength(600);
      expect(new Set(rows.map((d) => d.event_id)).size).toBe(600);
      await h.db
        .updateTable('deliveries')
        .set({ status: 'cancelled', next_attempt_at: null })
        .where('webhook_id', '=', hook.id)
        .execute();
    });
  },
  ENV,
);
