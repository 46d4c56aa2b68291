import { expect, it } from 'vitest';
import type { EventsTable } from '../src/db/schema.js';
import { createTicket, updateTicket } from '../src/tickets/tickets.service.js';
import { forEachDialect, type Harness, type Org } from './support/harness.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

function caller(h: Harness, org: Org) {
  return (method: Method, url: string, payload?: object) =>
    h.request({ method, url, key: org.apiKey, ...(payload !== undefined ? { payload } : {}) });
}

forEachDialect('ticket events', (h) => {
  /** The ticket's events in the order they were raised (ids are UUIDv7). */
  const eventsOf = (ticketId: string): Promise<EventsTable[]> =>
    h.db
      .selectFrom('events')
      .selectAll()
      .where('ticket_id', '=', ticketId)
      .orderBy('id', 'asc')
      .execute();

  /** Runs `action` at a fresh clock time and returns the events it raised for the ticket. */
  async function raisedBy(ticketId: string, action: () => Promise<unknown>) {
    const before = (await eventsOf(ticketId)).length;
    h.clock.advance(60_000);
    await action();
    return (await eventsOf(ticketId)).slice(before);
  }

  /** Checks the stored envelope and returns its `data`. */
  function dataOf(row: EventsTable, org: Org): any {
    const payload = JSON.parse(row.payload);
    expect(Object.keys(payload)).toEqual([
      'organizationId',
      'eventType',
      'eventId',
      'timestamp',
      'data',
    ]);
    expect(payload.organizationId).toBe(org.organizationId);
    expect(row.organization_id).toBe(org.organizationId);
    expect(payload.eventType).toBe(row.type);
    expect(payload.eventId).toBe(row.id);
    expect(payload.timestamp).toBe(new Date(h.clock.now()).toISOString());
    expect(row.created_at).toBe(h.clock.now());
    return payload.data;
  }

  async function setup() {
    const org = await h.createOrg();
    const api = caller(h, org);
    const agent = (
      await api('POST', '/api/users', {
        email: `agent-${Math.random().toString(36).slice(2)}@example.com`,
        name: 'Agent',
      })
    ).json().id as string;
    const open = async (extra: object = {}) => {
      const res = await api('POST', '/api/tickets', {
        subject: 'Events',
        requester: { email: 'ev@example.com' },
        ...extra,
      });
      expect(res.statusCode).toBe(201);
      return res.json();
    };
    return { org, api, agent, open };
  }

  const types = (rows: EventsTable[]) => rows.map((r) => r.type);

  it('raises ticket.created with the new ticket', async () => {
    const { org, open } = await setup();
    h.clock.advance(60_000);
    const ticket = await open({ tags: ['a'] });
    const rows = await eventsOf(ticket.id);
    expect(types(rows)).toEqual(['ticket.created']);
    expect(dataOf(rows[0]!, org)).toEqual({ ticket });
    expect(rows[0]!.survey_id).toBeNull();
  });

  it('raises ticket.assigned after ticket.created when created with an assignee', async () => {
    const { org, open, agent } = await setup();
    h.clock.advance(60_000);
    const ticket = await open({ assigneeId: agent });
    const rows = await eventsOf(ticket.id);
    expect(types(rows)).toEqual(['ticket.created', 'ticket.assigned']);
    expect(dataOf(rows[0]!, org)).toEqual({ ticket });
    expect(dataOf(rows[1]!, org)).toEqual({ ticket, previousAssigneeId: null });
    expect(rows[0]!.id).not.toBe(rows[1]!.id);
  });

  it('raises ticket.updated with {from, to} for each changed field', async () => {
    const { org, api, open } = await setup();
    const ticket = await open({ tags: ['x'] });
    let patched: any;
    const rows = await raisedBy(ticket.id, async () => {
      patched = (
        await api('PATCH', `/api/tickets/${ticket.id}`, {
          subject: 'Renamed',
          priority: 'low',
          tags: ['x', 'y'],
          status: 'open',
        })
      ).json();
    });
    expect(types(rows)).toEqual(['ticket.updated']);
    expect(dataOf(rows[0]!, org)).toEqual({
      ticket: patched,
      changes: {
        subject: { from: 'Events', to: 'Renamed' },
        priority: { from: 'normal', to: 'low' },
        tags: { from: ['x'], to: ['x', 'y'] },
      },
    });
    expect(patched.updatedAt).toBe(new Date(h.clock.now()).toISOString());
  });

  it('raises ticket.status_changed with the previous status', async () => {
    const { org, api, open } = await setup();
    const ticket = await open();
    let patched: any;
    const rows = await raisedBy(ticket.id, async () => {
      patched = (await api('PATCH', `/api/tickets/${ticket.id}`, { status: 'pending' })).json();
    });
    expect(types(rows)).toEqual(['ticket.updated', 'ticket.status_changed']);
    expect(dataOf(rows[0]!, org).changes).toEqual({ status: { from: 'open', to: 'pending' } });
    expect(dataOf(rows[1]!, org)).toEqual({ ticket: patched, previousStatus: 'open' });
  });

  it('raises ticket.resolved when the status becomes resolved', async () => {
    const { org, api, open } = await setup();
    const ticket = await open();
    await api('PATCH', `/api/tickets/${ticket.id}`, { status: 'pending' });
    let patched: any;
    const rows = await raisedBy(ticket.id, async () => {
      patched = (await api('PATCH', `/api/tickets/${ticket.id}`, { status: 'resolved' })).json();
    });
    expect(types(rows)).toEqual(['ticket.updated', 'ticket.status_changed', 'ticket.resolved']);
    expect(dataOf(rows[1]!, org).previousStatus).toBe('pending');
    expect(dataOf(rows[2]!, org)).toEqual({ ticket: patched });
    expect(patched.resolvedAt).toBe(new Date(h.clock.now()).toISOString());
  });

  it('raises ticket.closed when the status becomes closed', async () => {
    const { org, api, open } = await setup();
    const ticket = await open();
    await api('PATCH', `/api/tickets/${ticket.id}`, { status: 'resolved' });
    let patched: any;
    const rows = await raisedBy(ticket.id, async () => {
      patched = (await api('PATCH', `/api/tickets/${ticket.id}`, { status: 'closed' })).json();
    });
    expect(types(rows)).toEqual(['ticket.updated', 'ticket.status_changed', 'ticket.closed']);
    expect(dataOf(rows[1]!, org).previousStatus).toBe('resolved');
    expect(dataOf(rows[2]!, org)).toEqual({ ticket: patched });
  });

  it('raises ticket.assigned with the previous assignee, and not when unassigning', async () => {
    const { org, api, open, agent } = await setup();
    const ticket = await open({ assigneeId: org.adminUserId });
    let patched: any;
    const rows = await raisedBy(ticket.id, async () => {
      patched = (await api('PATCH', `/api/tickets/${ticket.id}`, { assigneeId: agent })).json();
    });
    expect(types(rows)).toEqual(['ticket.updated', 'ticket.assigned']);
    expect(dataOf(rows[0]!, org).changes).toEqual({
      assigneeId: { from: org.adminUserId, to: agent },
    });
    expect(dataOf(rows[1]!, org)).toEqual({ ticket: patched, previousAssigneeId: org.adminUserId });

    const unassigned = await raisedBy(ticket.id, () =>
      api('PATCH', `/api/tickets/${ticket.id}`, { assigneeId: null }),
    );
    expect(types(unassigned)).toEqual(['ticket.updated']);
    expect(dataOf(unassigned[0]!, org).changes).toEqual({ assigneeId: { from: agent, to: null } });
  });

  it('raises message.created with the ticket and the message', async () => {
    const { org, api, open } = await setup();
    const ticket = await open();
    let message: any;
    const rows = await raisedBy(ticket.id, async () => {
      message = (
        await api('POST', `/api/tickets/${ticket.id}/messages`, {
          body: 'Hello',
          direction: 'inbound',
        })
      ).json();
    });
    expect(types(rows)).toEqual(['message.created']);
    expect(dataOf(rows[0]!, org)).toEqual({ ticket, message });
  });

  it('raises exactly updated, status_changed, resolved and assigned for a resolve-and-reassign patch', async () => {
    const { org, api, open, agent } = await setup();
    const ticket = await open({ assigneeId: org.adminUserId });
    let patched: any;
    const rows = await raisedBy(ticket.id, async () => {
      patched = (
        await api('PATCH', `/api/tickets/${ticket.id}`, { status: 'resolved', assigneeId: agent })
      ).json();
    });
    expect(types(rows)).toEqual([
      'ticket.updated',
      'ticket.status_changed',
      'ticket.resolved',
      'ticket.assigned',
    ]);
    const data = rows.map((r) => dataOf(r, org));
    expect(data[0]).toEqual({
      ticket: patched,
      changes: {
        status: { from: 'open', to: 'resolved' },
        assigneeId: { from: org.adminUserId, to: agent },
      },
    });
    expect(data[1]).toEqual({ ticket: patched, previousStatus: 'open' });
    expect(data[2]).toEqual({ ticket: patched });
    expect(data[3]).toEqual({ ticket: patched, previousAssigneeId: org.adminUserId });
    expect(new Set(rows.map((r) => r.id)).size).toBe(4);
  });

  it('raises nothing and keeps updatedAt for a patch that changes nothing', async () => {
    const { api, open, agent } = await setup();
    const ticket = await open({ assigneeId: agent, tags: ['a', 'b'] });
    const rows = await raisedBy(ticket.id, async () => {
      const res = await api('PATCH', `/api/tickets/${ticket.id}`, {
        subject: ticket.subject,
        priority: ticket.priority,
        status: ticket.status,
        assigneeId: agent,
        tags: ['b', 'a', 'a'],
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(ticket);
    });
    expect(rows).toEqual([]);
    const stored = await h.db
      .selectFrom('tickets')
      .select('updated_at')
      .where('id', '=', ticket.id)
      .executeTakeFirstOrThrow();
    expect(new Date(Number(stored.updated_at)).toISOString()).toBe(ticket.updatedAt);
  });

  it('stores neither the change nor its events when the transaction rolls back', async () => {
    const { org, api, open, agent } = await setup();
    const ticket = await open({ assigneeId: org.adminUserId });
    const before = await eventsOf(ticket.id);
    h.clock.advance(60_000);
    await expect(
      h.db.transaction().execute(async (trx) => {
        const changed = await updateTicket(trx, h.clock, org.organizationId, ticket.id, {
          status: 'resolved',
          assigneeId: agent,
        });
        expect(changed.status).toBe('resolved');
        // Written inside the transaction (SQLite has one connection: query through trx)...
        const inside = await trx
          .selectFrom('events')
          .select('type')
          .where('ticket_id', '=', ticket.id)
          .execute();
        expect(inside).toHaveLength(before.length + 4);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    // ...and gone with it.
    expect((await eventsOf(ticket.id)).map((r) => r.id)).toEqual(before.map((r) => r.id));
    expect((await api('GET', `/api/tickets/${ticket.id}`)).json()).toEqual(ticket);

    const count = async () =>
      (
        await h.db
          .selectFrom('events')
          .select('id')
          .where('organization_id', '=', org.organizationId)
          .execute()
      ).length;
    const eventsBefore = await count();
    await expect(
      h.db.transaction().execute(async (trx) => {
        await createTicket(trx, h.clock, org.organizationId, {
          subject: 'Never',
          requester: { email: 'never@example.com' },
        });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await count()).toBe(eventsBefore);
    expect((await api('GET', '/api/contacts?email=never@example.com')).json().data).toEqual([]);
    // The rolled-back ticket's number is not used up.
    expect((await open()).number).toBe(ticket.number + 1);
  });

  it('raises ticket.updated for each ticket unassigned because its assignee was deleted', async () => {
    const { org, api, open, agent } = await setup();
    const first = await open({ assigneeId: agent });
    const second = await open({ assigneeId: agent });
    const other = await open({ assigneeId: org.adminUserId });
    const otherBefore = await eventsOf(other.id);
    h.clock.advance(60_000);
    expect((await api('DELETE', `/api/users/${agent}`)).statusCode).toBe(204);
    for (const t of [first, second]) {
      const rows = (await eventsOf(t.id)).slice(2);
      expect(types(rows)).toEqual(['ticket.updated']);
      const data = dataOf(rows[0]!, org);
      expect(data.changes).toEqual({ assigneeId: { from: agent, to: null } });
      expect(data.ticket).toEqual((await api('GET', `/api/tickets/${t.id}`)).json());
      expect(data.ticket.assigneeId).toBeNull();
    }
    expect(await eventsOf(other.id)).toEqual(otherBefore);
  });
  it('applies concurrent patches one after the other, raising ticket.resolved once', async () => {
    const { org, api, open } = await setup();
    const ticket = await open();
    h.clock.advance(60_000);
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        api('PATCH', `/api/tickets/${ticket.id}`, { status: 'resolved' }),
      ),
    );
    expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200, 200]);
    const rows = (await eventsOf(ticket.id)).slice(1);
    expect(types(rows)).toEqual(['ticket.updated', 'ticket.status_changed', 'ticket.resolved']);
    expect(dataOf(rows[1]!, org).previousStatus).toBe('open');
  });
});
