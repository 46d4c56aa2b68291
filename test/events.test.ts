import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { expect, it } from 'vitest';
import {
  ORGANIZATION_EVENT_TYPES,
  SURVEY_EVENT_TYPES,
  TICKET_EVENT_TYPES,
} from '../src/events/catalog.js';
import { emitEvents } from '../src/events/outbox.js';
import { EVENT_CATALOGUE } from '../src/webhooks/event-catalogue.js';
import { forEachDialect } from './support/harness.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

forEachDialect('events API', (h) => {
  async function emit(
    organizationId: string,
    type: (typeof TICKET_EVENT_TYPES)[number],
    ticketId = 't',
  ) {
    const [e] = await h.db
      .transaction()
      .execute((trx) =>
        emitEvents(trx, h.clock, [{ type, organizationId, ticketId, data: { n: 1 } }]),
      );
    return e!;
  }

  it('lists the catalogue with a compilable JSON Schema per event type', async () => {
    const org = await h.createOrg();
    const res = await h.request({ method: 'GET', url: '/api/event-types', key: org.apiKey });
    expect(res.statusCode).toBe(200);
    const types = res.json().data as { type: string; family: string; schema: object }[];
    expect(types.map((t) => t.type).sort()).toEqual(
      [...TICKET_EVENT_TYPES, ...SURVEY_EVENT_TYPES, ...ORGANIZATION_EVENT_TYPES].sort(),
    );
    // Ticket webhooks subscribe to the organization's events: they are in the ticket family.
    expect(types.find((t) => t.type === 'webhook.disabled')).toMatchObject({
      family: 'ticket',
      schema: { properties: { webhook: {}, reason: {}, lastError: {} } },
    });
    const ajv = addFormats(new Ajv({ strict: false }));
    for (const t of types) expect(() => ajv.compile(t.schema), t.type).not.toThrow();
    expect(types.length).toBe(EVENT_CATALOGUE.length);
  });

  it('stores the exact envelope and serves it back', async () => {
    const org = await h.createOrg();
    const e = await emit(org.organizationId, 'ticket.created');
    const row = await h.db
      .selectFrom('events')
      .selectAll()
      .where('id', '=', e.id)
      .executeTakeFirstOrThrow();
    expect(row.payload).toBe(e.payload);
    expect(Object.keys(JSON.parse(row.payload))).toEqual([
      'organizationId',
      'eventType',
      'eventId',
      'timestamp',
      'data',
    ]);
    const got = (
      await h.request({ method: 'GET', url: `/api/events/${e.id}`, key: org.apiKey })
    ).json();
    expect(got).toEqual({
      id: e.id,
      type: 'ticket.created',
      createdAt: new Date(h.clock.now()).toISOString(),
      payload: JSON.parse(e.payload),
      deliveries: [],
    });
    expect(got.payload.eventId).toBe(e.id);
  });

  it('filters by type and time range, newest first, with pagination', async () => {
    const org = await h.createOrg();
    const t0 = h.clock.now();
    const created = await emit(org.organizationId, 'ticket.created');
    h.clock.advance(60_000);
    const updated = await emit(org.organizationId, 'ticket.updated');
    h.clock.advance(60_000);
    const resolved = await emit(org.organizationId, 'ticket.resolved');
    const ids = async (query: string) =>
      (await h.request({ method: 'GET', url: `/api/events${query}`, key: org.apiKey }))
        .json()
        .data.map((e: { id: string }) => e.id);
    expect(await ids('')).toEqual([resolved.id, updated.id, created.id]);
    expect(await ids('?type=ticket.updated')).toEqual([updated.id]);
    const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
    expect(await ids(`?since=${iso(t0 + 60_000)}`)).toEqual([resolved.id, updated.id]);
    expect(await ids(`?until=${iso(t0 + 60_000)}`)).toEqual([created.id]);
    const page1 = (
      await h.request({ method: 'GET', url: '/api/events?limit=2', key: org.apiKey })
    ).json();
    expect(page1.data).toHaveLength(2);
    const page2 = (
      await h.request({
        method: 'GET',
        url: `/api/events?limit=2&cursor=${page1.nextCursor}`,
        key: org.apiKey,
      })
    ).json();
    expect(page2.data.map((e: { id: string }) => e.id)).toEqual([created.id]);
    expect(page2.nextCursor).toBeNull();
    const bad = await h.request({
      method: 'GET',
      url: '/api/events?since=yesterday',
      key: org.apiKey,
    });
    expect(bad.statusCode).toBe(400);
  });

  it("never shows another organization's events", async () => {
    const a = await h.createOrg();
    const b = await h.createOrg();
    const e = await emit(b.organizationId, 'ticket.created');
    expect(
      (await h.request({ method: 'GET', url: `/api/events/${e.id}`, key: a.apiKey })).statusCode,
    ).toBe(404);
    const list = (await h.request({ method: 'GET', url: '/api/events', key: a.apiKey })).json();
    expect(list.data.map((x: { id: string }) => x.id)).not.toContain(e.id);
  });

  it('stores nothing when the transaction rolls back', async () => {
    const org = await h.createOrg();
    await expect(
      h.db.transaction().execute(async (trx) => {
        await emitEvents(trx, h.clock, [
          { type: 'ticket.created', organizationId: org.organizationId, ticketId: 't', data: {} },
        ]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const rows = await h.db
      .selectFrom('events')
      .select('id')
      .where('organization_id', '=', org.organizationId)
      .execute();
    expect(rows).toEqual([]);
  });
});

forEachDialect('event payloads match the catalogue', (h) => {
  it('validates the data of every event a ticket lifecycle and a survey response raise against its JSON Schema', async () => {
    const org = await h.createOrg();
    const agent = (
      await h.request({
        method: 'POST',
        url: '/api/users',
        key: org.apiKey,
        payload: { email: 'a@example.com', name: 'A' },
      })
    ).json();
    const ticket = (
      await h.request({
        method: 'POST',
        url: '/api/tickets',
        key: org.apiKey,
        payload: {
          subject: 'Help',
          requester: { email: 'c@example.com', name: 'C' },
          assigneeId: agent.id,
          tags: ['x'],
        },
      })
    ).json();
    await h.request({
      method: 'PATCH',
      url: `/api/tickets/${ticket.id}`,
      key: org.apiKey,
      payload: { status: 'resolved', assigneeId: org.adminUserId },
    });
    await h.request({
      method: 'PATCH',
      url: `/api/tickets/${ticket.id}`,
      key: org.apiKey,
      payload: { status: 'closed' },
    });
    await h.request({
      method: 'POST',
      url: `/api/tickets/${ticket.id}/messages`,
      key: org.apiKey,
      payload: { body: 'Thanks' },
    });
    const rows = await h.db
      .selectFrom('events')
      .selectAll()
      .where('organization_id', '=', org.organizationId)
      .execute();
    const ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
    const seen = new Set<string>();
    for (const row of rows) {
      const entry = EVENT_CATALOGUE.find((e) => e.type === row.type);
      expect(entry, row.type).toBeDefined();
      const validate = ajv.compile(entry!.schema);
      const payload = JSON.parse(row.payload);
      expect(validate(payload.data), `${row.type}: ${JSON.stringify(validate.errors)}`).toBe(true);
      seen.add(row.type);
    }
    expect([...seen].sort()).toEqual(
      [
        'message.created',
        'ticket.assigned',
        'ticket.closed',
        'ticket.created',
        'ticket.resolved',
        'ticket.status_changed',
        'ticket.updated',
      ].sort(),
    );
  });
});
