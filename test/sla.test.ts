/**
 * SLA policies and timers on an injected clock: warnings and breaches fire
 * at the right instants, once, and move with priority, pauses and reopening.
 */
import { expect, it } from 'vitest';
import { JobRunner } from '../src/jobs/runner.js';
import { createLogger } from '../src/logger.js';
import { SLA_TIMER_KIND, slaTimerHandler } from '../src/sla/timers.js';
import { forEachDialect, type Harness, type Org } from './support/harness.js';
import { CA_FILE, useReceiver } from './support/receiver.js';
import { createWebhook } from './support/webhooks.js';
import { testWorker } from './support/worker.js';

const MIN = 60_000;

function timers(h: Harness): JobRunner {
  return new JobRunner({
    database: h.database,
    clock: h.clock,
    logger: createLogger('silent'),
    handlers: { [SLA_TIMER_KIND]: slaTimerHandler(h.db, h.clock) },
  });
}

forEachDialect(
  'SLA',
  (h) => {
    const receiver = useReceiver();

    async function ticket(org: Org, priority = 'urgent') {
      const res = await h.request({
        method: 'POST',
        url: '/api/tickets',
        key: org.apiKey,
        payload: { subject: 'Down', priority, requester: { email: 'c@example.com' } },
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json();
    }
    const patch = (org: Org, id: string, payload: object) =>
      h.request({ method: 'PATCH', url: `/api/tickets/${id}`, key: org.apiKey, payload });
    async function slaEvents(ticketId: string) {
      const rows = await h.db
        .selectFrom('events')
        .selectAll()
        .where('ticket_id', '=', ticketId)
        .orderBy('id')
        .execute();
      return rows
        .filter((r) => r.type.startsWith('ticket.sla_'))
        .map((r) => {
          const p = JSON.parse(r.payload);
          return `${r.type.slice('ticket.sla_'.length)}:${p.data.sla.metric}@${(Date.parse(p.timestamp) - t0) / MIN}`;
        });
    }
    let t0 = 0;
    /** Moves the clock to `minutes` after t0 and fires what is due. */
    async function at(minutes: number, runner = timers(h)) {
      h.clock.set(t0 + minutes * MIN);
      await runner.runOnce();
    }

    it('serves the default policy and replaces it with PUT (admins only)', async () => {
      const org = await h.createOrg();
      const got = (
        await h.request({ method: 'GET', url: '/api/sla-policy', key: org.apiKey })
      ).json();
      expect(got).toEqual({
        warningPercent: 80,
        priorities: {
          urgent: { firstResponseMinutes: 60, resolutionMinutes: 240 },
          high: { firstResponseMinutes: 240, resolutionMinutes: 1440 },
          normal: { firstResponseMinutes: 480, resolutionMinutes: 2880 },
          low: { firstResponseMinutes: 1440, resolutionMinutes: 5760 },
        },
      });
      const put = await h.request({
        method: 'PUT',
        url: '/api/sla-policy',
        key: org.apiKey,
        payload: {
          warningPercent: 50,
          priorities: { urgent: { firstResponseMinutes: 10, resolutionMinutes: null } },
        },
      });
      expect(put.statusCode).toBe(200);
      expect(put.json().priorities.normal).toEqual({
        firstResponseMinutes: null,
        resolutionMinutes: null,
      });
      const bad = await h.request({
        method: 'PUT',
        url: '/api/sla-policy',
        key: org.apiKey,
        payload: { warningPercent: 0, priorities: { urgent: { firstResponseMinutes: -1 } } },
      });
      expect(bad.statusCode).toBe(400);
      expect(
        bad
          .json()
          .error.details.map((d: { field: string }) => d.field)
          .sort(),
      ).toEqual(['priorities.urgent.firstResponseMinutes', 'warningPercent']);
      const t = await ticket(org);
      expect(t.firstResponseDueAt).toBe(new Date(Date.parse(t.createdAt) + 10 * MIN).toISOString());
      expect(t.resolutionDueAt).toBeNull();
      expect(t.sla).toEqual({
        firstResponse: { dueAt: t.firstResponseDueAt, state: 'running' },
        resolution: { dueAt: null, state: 'none' },
      });
    });

    it('warns at 80% and breaches at 100% of each target, once', async () => {
      const org = await h.createOrg();
      t0 = h.clock.now();
      const t = await ticket(org); // urgent: first response 60 min, resolution 240 min
      await at(47.99);
      expect(await slaEvents(t.id)).toEqual([]);
      await at(48);
      await at(59.99);
      expect(await slaEvents(t.id)).toEqual(['warning:first_response@48']);
      await at(60);
      await at(191.99);
      await at(192);
      await at(240);
      await at(500);
      expect(await slaEvents(t.id)).toEqual([
        'warning:first_response@48',
        'breached:first_response@60',
        'warning:resolution@192',
        'breached:resolution@240',
      ]);
      const now = (
        await h.request({ method: 'GET', url: `/api/tickets/${t.id}`, key: org.apiKey })
      ).json();
      expect(now.sla.firstResponse.state).toBe('breached');
      expect(now.sla.resolution.state).toBe('breached');
    });

    it('raises nothing for an SLA met before its timers', async () => {
      const org = await h.createOrg();
      t0 = h.clock.now();
      const t = await ticket(org);
      await at(10);
      await h.request({
        method: 'POST',
        url: `/api/tickets/${t.id}/messages`,
        key: org.apiKey,
        payload: { body: 'On it' },
      });
      await at(100);
      await patch(org, t.id, { status: 'resolved' });
      await at(1000);
      expect(await slaEvents(t.id)).toEqual([]);
      const got = (
        await h.request({ method: 'GET', url: `/api/tickets/${t.id}`, key: org.apiKey })
      ).json();
      expect(got.sla).toEqual({
        firstResponse: { dueAt: t.firstResponseDueAt, state: 'met' },
        resolution: { dueAt: t.resolutionDueAt, state: 'met' },
      });
    });

    it('moves the timers when the priority changes', async () => {
      const org = await h.createOrg();
      t0 = h.clock.now();
      const t = await ticket(org, 'urgent');
      await at(30);
      const lowered = (await patch(org, t.id, { priority: 'high' })).json(); // 240 / 1440 from creation
      expect(lowered.firstResponseDueAt).toBe(new Date(t0 + 240 * MIN).toISOString());
      await at(60);
      expect(await slaEvents(t.id)).toEqual([]);
      await at(192);
      await at(240);
      expect(await slaEvents(t.id)).toEqual([
        'warning:first_response@192',
        'breached:first_response@240',
      ]);
    });

    it('fires for a due time that moved away and back', async () => {
      const org = await h.createOrg();
      t0 = h.clock.now();
      const t = await ticket(org, 'urgent');
      await at(10);
      await patch(org, t.id, { priority: 'high' });
      await at(20);
      await patch(org, t.id, { priority: 'urgent' });
      await at(48);
      await at(60);
      expect(await slaEvents(t.id)).toEqual([
        'warning:first_response@48',
        'breached:first_response@60',
      ]);
    });

    it('pauses the resolution clock while pending and restarts it on reopen', async () => {
      const org = await h.createOrg();
      t0 = h.clock.now();
      const t = await ticket(org); // resolution due at 240
      await h.request({
        method: 'POST',
        url: `/api/tickets/${t.id}/messages`,
        key: org.apiKey,
        payload: { body: 'Need info' },
      });
      await at(100);
      const pending = (await patch(org, t.id, { status: 'pending' })).json();
      expect(pending.sla.resolution.state).toBe('paused');
      await at(400); // would have warned and breached
      expect(await slaEvents(t.id)).toEqual([]);
      const resumed = (await patch(org, t.id, { status: 'open' })).json();
      // 300 minutes paused: due moves from 240 to 540.
      expect(resumed.resolutionDueAt).toBe(new Date(t0 + 540 * MIN).toISOString());
      await at(491.99);
      expect(await slaEvents(t.id)).toEqual([]);
      await at(492);
      expect(await slaEvents(t.id)).toEqual(['warning:resolution@492']);
      await patch(org, t.id, { status: 'resolved' });
      await at(600);
      const reopened = (await patch(org, t.id, { status: 'open' })).json();
      expect(reopened.resolutionDueAt).toBe(new Date(t0 + (600 + 240) * MIN).toISOString());
      await at(600 + 192);
      await at(600 + 240);
      expect(await slaEvents(t.id)).toEqual([
        'warning:resolution@492',
        'warning:resolution@792',
        'breached:resolution@840',
      ]);
    });

    it('fires each timer once with two runners, and late after downtime', async () => {
      const org = await h.createOrg();
      t0 = h.clock.now();
      const t = await ticket(org);
      const a = timers(h);
      const b = timers(h);
      // Nobody ran while the due times passed; both runners come back at once.
      h.clock.set(t0 + 1000 * MIN);
      for (let i = 0; i < 3; i++) await Promise.all([a.runOnce(), b.runOnce()]);
      const events = await slaEvents(t.id);
      expect(events.map((e) => e.split('@')[0]).sort()).toEqual(
        [
          'breached:first_response',
          'breached:resolution',
          'warning:first_response',
          'warning:resolution',
        ].sort(),
      );
    });

    it('filters tickets by SLA state', async () => {
      const org = await h.createOrg();
      t0 = h.clock.now();
      const risky = await ticket(org, 'urgent'); // warns at 48
      const late = await ticket(org, 'urgent');
      const fine = await ticket(org, 'low');
      await at(49);
      await h.request({
        method: 'POST',
        url: `/api/tickets/${late.id}/messages`,
        key: org.apiKey,
        payload: { body: 'hi' },
      });
      const ids = async (sla: string) =>
        (await h.request({ method: 'GET', url: `/api/tickets?sla=${sla}`, key: org.apiKey }))
          .json()
          .data.map((x: { id: string }) => x.id);
      expect(await ids('at_risk')).toEqual([risky.id]);
      expect(await ids('breached')).toEqual([]);
      await at(61);
      expect(await ids('breached')).toEqual([risky.id]);
      expect(await ids('at_risk')).toEqual([]);
      expect(fine.sla.firstResponse.state).toBe('running');
      expect(
        (await h.request({ method: 'GET', url: '/api/tickets?sla=late', key: org.apiKey }))
          .statusCode,
      ).toBe(400);
    });

    it('delivers sla_warning and sla_breached to a subscribed webhook with the contract envelope', async () => {
      receiver.respond = () => ({ status: 200 });
      const org = await h.createOrg();
      await createWebhook(h, org, {
        url: receiver.url('/sla'),
        events: ['ticket.sla_warning', 'ticket.sla_breached'],
      });
      t0 = h.clock.now();
      const t = await ticket(org);
      await at(48);
      await at(60);
      const before = receiver.received.length;
      await testWorker(h).runOnce();
      const got = receiver.received.slice(before).map((r) => JSON.parse(r.body.toString()));
      expect(got.map((b) => b.eventType).sort()).toEqual([
        'ticket.sla_breached',
        'ticket.sla_warning',
      ]);
      for (const body of got) {
        expect(Object.keys(body)).toEqual([
          'organizationId',
          'eventType',
          'eventId',
          'timestamp',
          'data',
        ]);
        expect(body.data.ticket.id).toBe(t.id);
        expect(body.data.sla).toEqual({ metric: 'first_response', dueAt: t.firstResponseDueAt });
      }
    });
  },
  { HOOKDESK_EGRESS_ALLOW: '127.0.0.1', HOOKDESK_EGRESS_CA_FILE: CA_FILE },
);
