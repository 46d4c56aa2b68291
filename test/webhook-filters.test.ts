/**
 * Payload filters and per-ticket ordering on webhooks (docs/webhooks.md,
 * "Filters"; docs/api.md, "Webhooks"): a filtered webhook gets a delivery
 * only of the events whose envelope matches, sent by the real worker to a
 * real HTTPS receiver on loopback; every operator against tickets made
 * through the API; `filter` and `ordering` on create and PATCH, with the
 * refusals; and the `order_key` fan-out gives the deliveries of an ordered
 * webhook.
 */
import { expect, it } from 'vitest';
import { iso } from '../src/clock.js';
import type { Harness, Org } from './support/harness.js';
import { forEachDialect } from './support/harness.js';
import { CA_FILE, useReceiver } from './support/receiver.js';
import {
  createSurvey,
  createWebhook,
  deliveriesOf,
  problemFields,
  webhookApi,
} from './support/webhooks.js';
import { testWorker } from './support/worker.js';

const ENV = {
  HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
  HOOKDESK_EGRESS_CA_FILE: CA_FILE,
  HOOKDESK_DELIVERY_TIMEOUT_MS: '1500',
};

async function ticket(
  h: Harness,
  org: Org,
  fields: Record<string, unknown>,
): Promise<{ id: string; subject: string; number: number }> {
  const res = await h.request({
    method: 'POST',
    url: '/api/tickets',
    key: org.apiKey,
    payload: { requester: { email: 'pat@example.com' }, ...fields },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

/** What a webhook was given: `eventType subject` of each delivery's event, sorted. */
async function delivered(h: Harness, webhookId: string): Promise<string[]> {
  const rows = await h.db
    .selectFrom('deliveries')
    .innerJoin('events', 'events.id', 'deliveries.event_id')
    .select('events.payload')
    .where('deliveries.webhook_id', '=', webhookId)
    .execute();
  return rows
    .map((r) => {
      const body = JSON.parse(r.payload);
      return `${body.eventType} ${body.data.ticket.subject}`;
    })
    .sort();
}

/** Runs the worker until nothing is due. */
async function drain(h: Harness): Promise<void> {
  const worker = testWorker(h);
  for (let i = 0; i < 20 && (await worker.runOnce()) > 0; i++);
}

forEachDialect(
  'webhook payload filters',
  (h) => {
    const receiver = useReceiver();

    it('sends a filtered webhook only the matching events, an unfiltered one all', async () => {
      receiver.respond = () => ({ status: 204 });
      const org = await h.createOrg();
      const all = await createWebhook(h, org, { url: receiver.url('/f/all') });
      const urgent = await createWebhook(h, org, {
        url: receiver.url('/f/urgent'),
        filter: { 'data.ticket.priority': { $in: ['high', 'urgent'] } },
      });
      expect(urgent.filter).toEqual({ 'data.ticket.priority': { $in: ['high', 'urgent'] } });
      for (const priority of ['low', 'high', 'normal', 'urgent']) {
        await ticket(h, org, { subject: `${priority} one`, priority });
      }
      await drain(h);
      const subjects = (path: string) =>
        receiver.received
          .filter((r) => r.path === path)
          .map((r) => JSON.parse(r.body.toString('utf8')).data.ticket.subject as string)
          .sort();
      expect(subjects('/f/urgent')).toEqual(['high one', 'urgent one']);
      expect(subjects('/f/all')).toEqual(['high one', 'low one', 'normal one', 'urgent one']);
      // No delivery at all is made of the others: nothing pending, nothing cancelled.
      expect((await deliveriesOf(h, urgent.id)).map((d) => d.status)).toEqual([
        'succeeded',
        'succeeded',
      ]);
      expect(await deliveriesOf(h, all.id)).toHaveLength(4);
    });

    it('matches literals, array members, $ne/$nin, numbers and dates, $exists, $and/$or and eventType', async () => {
      const org = await h.createOrg();
      const t0 = h.clock.now();
      const at = (minutes: number) => iso(t0 + minutes * 60_000);
      const created = ['ticket.created'];
      const cases: { filter: object; events?: string[]; want: string[] }[] = [
        { filter: { 'data.ticket.priority': 'high' }, want: ['A'] },
        { filter: { 'data.ticket.tags': 'billing' }, want: ['A', 'C'] },
        { filter: { 'data.ticket.tags.0': 'vip' }, want: ['A'] },
        { filter: { 'data.ticket.priority': { $eq: 'low' } }, want: ['B'] },
        { filter: { 'data.ticket.priority': { $ne: 'high' } }, want: ['B', 'C'] },
        { filter: { 'data.ticket.tags': { $ne: 'billing' } }, want: ['B'] },
        { filter: { 'data.ticket.tags': { $nin: ['vip'] } }, want: ['B', 'C'] },
        { filter: { 'data.ticket.tags': { $in: ['vip', 'none'] } }, want: ['A'] },
        { filter: { 'data.ticket.nothing': { $ne: 'x' } }, want: ['A', 'B', 'C'] },
        { filter: { 'data.ticket.nothing': { $nin: ['x'] } }, want: ['A', 'B', 'C'] },
        { filter: { 'data.ticket.nothing': 'x' }, want: [] },
        { filter: { 'data.ticket.number': { $gt: 1, $lt: 3 } }, want: ['B'] },
        { filter: { 'data.ticket.number': { $gte: 2 } }, want: ['B', 'C'] },
        { filter: { 'data.ticket.number': { $lte: 1 } }, want: ['A'] },
        // A number never compares with a string, nor a date with a number.
        { filter: { 'data.ticket.subject': { $gt: 0 } }, want: [] },
        { filter: { 'data.ticket.number': { $gt: at(-60) } }, want: [] },
        { filter: { 'data.ticket.createdAt': { $gt: at(30) } }, want: ['B', 'C'] },
        { filter: { timestamp: { $lte: at(60) } }, want: ['A', 'B'] },
        // Compared as instants: the same time written with an offset, and a bare date.
        {
          filter: { 'data.ticket.createdAt': { $gte: shift(at(60), 2), $lt: shift(at(120), -1) } },
          want: ['B'],
        },
        {
          filter: { 'data.ticket.createdAt': { $gte: at(0).slice(0, 10) } },
          want: ['A', 'B', 'C'],
        },
        { filter: { 'data.ticket.createdAt': { $lt: at(0).slice(0, 10) } }, want: [] },
        // `null` is a value: present. A missing field is not.
        { filter: { 'data.ticket.assigneeId': { $exists: true } }, want: ['A', 'B', 'C'] },
        { filter: { 'data.ticket.assigneeId': null }, want: ['A', 'B'] },
        {
          filter: { 'data.previousAssigneeId': { $exists: true } },
          events: ['ticket.created', 'ticket.assigned'],
          want: ['ticket.assigned C'],
        },
        {
          filter: { 'data.previousAssigneeId': { $exists: false } },
          events: ['ticket.created', 'ticket.assigned'],
          want: ['A', 'B', 'C'],
        },
        {
          filter: {
            $or: [
              { 'data.ticket.priority': 'low' },
              {
                $and: [
                  { 'data.ticket.tags': 'billing' },
                  { 'data.ticket.priority': { $ne: 'high' } },
                ],
              },
            ],
          },
          want: ['B', 'C'],
        },
        // Several keys in one object: all must match.
        {
          filter: {
            'data.ticket.priority': { $in: ['high', 'urgent'] },
            'data.ticket.tags': 'vip',
          },
          want: ['A'],
        },
        {
          filter: { eventType: 'ticket.updated' },
          events: ['ticket.created', 'ticket.updated'],
          want: ['ticket.updated A'],
        },
        {
          filter: { eventType: { $in: ['ticket.created', 'ticket.assigned'] } },
          events: ['ticket.created', 'ticket.updated', 'ticket.assigned'],
          want: ['A', 'B', 'C', 'ticket.assigned C'],
        },
        { filter: {}, want: ['A', 'B', 'C'] },
      ];
      const hooks = [];
      for (const c of cases) {
        hooks.push(
          await createWebhook(h, org, {
            url: 'https://hooks.example.com/filtered',
            events: c.events ?? created,
            filter: c.filter,
          }),
        );
      }
      const a = await ticket(h, org, { subject: 'A', priority: 'high', tags: ['vip', 'billing'] });
      h.clock.set(t0 + 60 * 60_000);
      await ticket(h, org, { subject: 'B', priority: 'low' });
      h.clock.set(t0 + 120 * 60_000);
      await ticket(h, org, {
        subject: 'C',
        priority: 'urgent',
        tags: ['billing'],
        assigneeId: org.adminUserId,
      });
      const patched = await h.request({
        method: 'PATCH',
        url: `/api/tickets/${a.id}`,
        key: org.apiKey,
        payload: { tags: ['vip'] },
      });
      expect(patched.statusCode, patched.body).toBe(200);

      const expand = (want: string[]) =>
        want.map((w) => (w.includes(' ') ? w : `ticket.created ${w}`)).sort();
      const got = await Promise.all(hooks.map((hook) => delivered(h, hook.id)));
      expect(cases.map((c, i) => ({ filter: c.filter, got: got[i] }))).toEqual(
        cases.map((c) => ({ filter: c.filter, got: expand(c.want) })),
      );
    });

    it('PATCH sets and replaces a filter; null restores every event', async () => {
      const org = await h.createOrg();
      const api = webhookApi(h, org);
      const hook = await createWebhook(h, org, { url: 'https://hooks.example.com/patched' });
      expect(hook.filter).toBeNull();
      const low = { 'data.ticket.priority': 'low' };
      let res = await api.patch(hook.id, { filter: low });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().filter).toEqual(low);
      expect((await api.get(hook.id)).json().filter).toEqual(low);
      await ticket(h, org, { subject: 'skipped', priority: 'high' });
      await ticket(h, org, { subject: 'low', priority: 'low' });
      expect(await delivered(h, hook.id)).toEqual(['ticket.created low']);

      // Another PATCH without `filter` leaves it as it is.
      res = await api.patch(hook.id, { name: 'renamed' });
      expect(res.json().filter).toEqual(low);

      res = await api.patch(hook.id, { filter: null });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().filter).toBeNull();
      const row = await h.db
        .selectFrom('webhooks')
        .select('filter')
        .where('id', '=', hook.id)
        .executeTakeFirstOrThrow();
      expect(row.filter).toBeNull();
      await ticket(h, org, { subject: 'again', priority: 'high' });
      expect(await delivered(h, hook.id)).toEqual(['ticket.created again', 'ticket.created low']);
    });

    it('refuses a filter too large, too deep, with unknown operators or wrong types, naming each problem', async () => {
      const org = await h.createOrg();
      const api = webhookApi(h, org);
      const hook = await createWebhook(h, org, { url: 'https://hooks.example.com/strict' });
      // Each object or array is a level: `{a: 1}` one, `{a: {$eq: 1}}` two, `$and: [...]` two more.
      const deep = (levels: number): object =>
        levels === 1 ? { a: 1 } : levels === 2 ? { a: { $eq: 1 } } : { $and: [deep(levels - 2)] };
      const nested = (levels: number): unknown =>
        levels === 0 ? 1 : { $or: [nested(levels - 1)] };
      const cases: { filter: unknown; problems: [string, RegExp][] }[] = [
        {
          filter: { 'data.ticket.subject': 'x'.repeat(4100) },
          problems: [['filter', /at most 4096 bytes/]],
        },
        { filter: deep(11), problems: [['filter', /at most 10 levels/]] },
        { filter: nested(60), problems: [['filter', /at most 10 levels/]] },
        {
          filter: { 'data.ticket.priority': { $regex: '^h' } },
          problems: [['filter.data.ticket.priority.$regex', /not a known operator/]],
        },
        { filter: { $where: 'true' }, problems: [['filter.$where', /not a known operator/]] },
        {
          filter: { 'data.ticket.priority': { $in: 'high' } },
          problems: [['filter.data.ticket.priority.$in', /must be an array/]],
        },
        {
          filter: { 'data.ticket.priority': { $nin: ['a', { b: 1 }] } },
          problems: [['filter.data.ticket.priority.$nin[1]', /string, number, boolean or null/]],
        },
        {
          filter: { 'data.ticket.number': { $gt: true } },
          problems: [['filter.data.ticket.number.$gt', /number or an ISO 8601 date/]],
        },
        {
          filter: { 'data.ticket.createdAt': { $lt: 'yesterday' } },
          problems: [['filter.data.ticket.createdAt.$lt', /number or an ISO 8601 date/]],
        },
        {
          filter: { 'data.ticket.createdAt': { $lt: '2026-02-30' } },
          problems: [['filter.data.ticket.createdAt.$lt', /number or an ISO 8601 date/]],
        },
        {
          filter: { 'data.ticket.assigneeId': { $exists: 'yes' } },
          problems: [['filter.data.ticket.assigneeId.$exists', /true or false/]],
        },
        { filter: { $and: {} }, problems: [['filter.$and', /non-empty array of filters/]] },
        { filter: { $or: [] }, problems: [['filter.$or', /non-empty array of filters/]] },
        { filter: { $and: [{ a: 1 }, 'b'] }, problems: [['filter.$and[1]', /an object/]] },
        {
          filter: { 'data.ticket.tags': ['vip'] },
          problems: [['filter.data.ticket.tags', /or an object of operators/]],
        },
        {
          filter: { 'data.ticket': {} },
          problems: [['filter.data.ticket', /at least one operator/]],
        },
        {
          filter: { data: { ticket: { priority: 'high' } } },
          problems: [['filter.data.ticket', /not an operator.*dotted path/]],
        },
        { filter: { 'data..ticket': 1 }, problems: [['filter.data..ticket', /dotted path/]] },
        { filter: 'priority = high', problems: [['filter', /must be an object/]] },
        { filter: ['a'], problems: [['filter', /must be an object/]] },
        // Every problem at once.
        {
          filter: { a: { $in: 1, $gt: false }, $nor: [] },
          problems: [
            ['filter.a.$in', /array/],
            ['filter.a.$gt', /number/],
            ['filter.$nor', /not a known operator/],
          ],
        },
      ];
      const before = await api.get(hook.id);
      for (const c of cases) {
        const label = JSON.stringify(c.filter).slice(0, 200);
        for (const res of [
          await api.create({
            name: 'x',
            url: 'https://hooks.example.com/x',
            events: ['ticket.created'],
            filter: c.filter,
          }),
          await api.patch(hook.id, { filter: c.filter }),
        ]) {
          expect(res.statusCode, `${label}: ${res.body}`).toBe(400);
          const error = res.json().error;
          expect(error.code).toBe('validation_failed');
          const details = error.details as { field: string; message: string }[];
          expect(
            details.map((d) => d.field),
            label,
          ).toEqual(c.problems.map(([f]) => f));
          c.problems.forEach(([, message], i) =>
            expect(details[i]!.message, label).toMatch(message),
          );
        }
      }
      // Nothing changed: no webhook created, the one patched as it was.
      expect((await api.list()).json().data).toHaveLength(1);
      expect((await api.get(hook.id)).json()).toEqual(before.json());
      // Right at the limits is fine.
      const edge = { 'data.ticket.subject': 'x'.repeat(4096 - 26) };
      expect(Buffer.byteLength(JSON.stringify(edge))).toBe(4096);
      expect((await api.patch(hook.id, { filter: edge })).statusCode).toBe(200);
      const tenDeep = deep(10);
      expect((await api.patch(hook.id, { filter: tenDeep })).json().filter).toEqual(tenDeep);
    });
  },
  ENV,
);

/** An ISO time written in another zone offset (`hours`), the same instant. */
function shift(isoTime: string, hours: number): string {
  const local = new Date(Date.parse(isoTime) + hours * 3_600_000).toISOString().slice(0, 19);
  const sign = hours < 0 ? '-' : '+';
  return `${local}${sign}${String(Math.abs(hours)).padStart(2, '0')}:00`;
}

forEachDialect('webhook ordering', (h) => {
  it('round-trips ordering on create and PATCH and refuses any other value', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    const hook = await createWebhook(h, org, { url: 'https://hooks.example.com/o' });
    expect(hook.ordering).toBe('none');
    const ordered = await createWebhook(h, org, {
      url: 'https://hooks.example.com/o2',
      ordering: 'ticket',
    });
    expect(ordered.ordering).toBe('ticket');
    expect((await api.get(ordered.id)).json().ordering).toBe('ticket');
    let res = await api.patch(hook.id, { ordering: 'ticket' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().ordering).toBe('ticket');
    res = await api.patch(hook.id, { ordering: 'none' });
    expect(res.json().ordering).toBe('none');
    for (const ordering of ['TICKET', 'survey', '', null, true, 1, ['ticket'], {}]) {
      const before = (await api.get(ordered.id)).json();
      res = await api.patch(ordered.id, { ordering });
      expect(res.statusCode, JSON.stringify(ordering)).toBe(400);
      expect(problemFields(res)).toEqual(['ordering']);
      expect((await api.get(ordered.id)).json()).toEqual(before);
    }
  });

  it('gives the deliveries of an ordered webhook the ticket or survey response as order key', async () => {
    const org = await h.createOrg();
    const events = ['ticket.created', 'ticket.updated', 'message.created'];
    const ordered = await createWebhook(h, org, {
      url: 'https://hooks.example.com/ordered',
      events,
      ordering: 'ticket',
    });
    const plain = await createWebhook(h, org, { url: 'https://hooks.example.com/plain', events });
    const t = await ticket(h, org, { subject: 'ordered' });
    await h.request({
      method: 'PATCH',
      url: `/api/tickets/${t.id}`,
      key: org.apiKey,
      payload: { priority: 'high' },
    });
    const msg = await h.request({
      method: 'POST',
      url: `/api/tickets/${t.id}/messages`,
      key: org.apiKey,
      payload: { body: 'On it.' },
    });
    expect(msg.statusCode, msg.body).toBe(201);
    const keys = async (id: string) =>
      (await deliveriesOf(h, id)).map((d) => [d.event_type, d.order_key]);
    expect(await keys(ordered.id)).toEqual(events.map((e) => [e, t.id]));
    expect(await keys(plain.id)).toEqual(events.map((e) => [e, null]));

    const surveyId = await createSurvey(h, org);
    const surveyApi = webhookApi(h, org, `/api/surveys/${surveyId}/webhooks`);
    const surveyHook = await surveyApi.create({
      name: 'ordered survey hook',
      url: 'https://hooks.example.com/survey',
      ordering: 'ticket',
    });
    expect(surveyHook.statusCode, surveyHook.body).toBe(201);
    expect(surveyHook.json().ordering).toBe('ticket');
    const response = await h.request({
      method: 'POST',
      url: `/api/surveys/${surveyId}/responses`,
      key: org.apiKey,
      payload: { answers: { score: { value: 5 } } },
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(await keys(surveyHook.json().id)).toEqual([
      ['survey.response_completed', response.json().id],
    ]);
  });
});
