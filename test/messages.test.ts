import { expect, it } from 'vitest';
import { forEachDialect, type Harness, type Org } from './support/harness.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

function caller(h: Harness, org: Org, key = org.apiKey) {
  return (method: Method, url: string, payload?: object) =>
    h.request({ method, url, key, ...(payload !== undefined ? { payload } : {}) });
}

function fields(res: { json: () => any }): string[] {
  return res
    .json()
    .error.details.map((d: { field: string }) => d.field)
    .sort();
}

async function newTicket(
  api: ReturnType<typeof caller>,
  extra: object = {},
): Promise<{ id: string; requester: { contactId: string }; channel: string }> {
  const res = await api('POST', '/api/tickets', {
    subject: 'Help',
    requester: { email: 'msg@example.com' },
    ...extra,
  });
  expect(res.statusCode).toBe(201);
  return res.json();
}

forEachDialect('ticket messages', (h) => {
  it('adds an outbound reply authored by the caller on the ticket channel', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    const ticket = await newTicket(api, { channel: 'email' });
    const res = await api('POST', `/api/tickets/${ticket.id}/messages`, {
      body: 'We are on it.',
      bodyHtml: '<p>We are on it.</p>',
    });
    expect(res.statusCode).toBe(201);
    const message = res.json();
    // An email reply gets its own Message-ID (docs/providers.md, "Outgoing ticket email");
    // sending is tested in test/email-*.
    expect(message.emailMessageId).toMatch(/^<[0-9a-f-]{36}@localhost>$/);
    expect(message).toEqual({
      id: expect.any(String),
      ticketId: ticket.id,
      direction: 'outbound',
      channel: 'email',
      body: 'We are on it.',
      bodyFull: 'We are on it.',
      bodyHtml: '<p>We are on it.</p>',
      authorId: org.adminUserId,
      contactId: null,
      emailMessageId: message.emailMessageId,
      providerMessageId: message.emailMessageId.slice(1, -1),
      deliveryStatus: 'queued',
      deliveryError: null,
      attachments: [],
      createdAt: new Date(h.clock.now()).toISOString(),
    });
  });

  it('records an inbound message as coming from the requester contact', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    const ticket = await newTicket(api);
    const res = await api('POST', `/api/tickets/${ticket.id}/messages`, {
      body: 'Any news?',
      direction: 'inbound',
      channel: 'whatsapp',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      direction: 'inbound',
      channel: 'whatsapp',
      authorId: null,
      contactId: ticket.requester.contactId,
      bodyHtml: null,
    });
  });

  it('uses a given author when it is a user of the organization', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    const agent = (
      await api('POST', '/api/users', { email: 'author@example.com', name: 'Author' })
    ).json();
    const agentKey = (
      await api('POST', '/api/api-keys', { name: 'agent', userId: agent.id })
    ).json().key as string;
    const ticket = await newTicket(api);

    const byAgentKey = await caller(h, org, agentKey)(
      'POST',
      `/api/tickets/${ticket.id}/messages`,
      {
        body: 'From the agent key',
      },
    );
    expect(byAgentKey.json().authorId).toBe(agent.id);
    const onBehalf = await api('POST', `/api/tickets/${ticket.id}/messages`, {
      body: 'Written for the agent',
      authorId: agent.id,
    });
    expect(onBehalf.json().authorId).toBe(agent.id);

    const other = await h.createOrg();
    const foreign = await api('POST', `/api/tickets/${ticket.id}/messages`, {
      body: 'x',
      authorId: other.adminUserId,
    });
    expect(foreign.statusCode).toBe(400);
    expect(fields(foreign)).toEqual(['authorId']);
  });

  it('lists every problem of an invalid message by field and stores nothing', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    const ticket = await newTicket(api);
    const url = `/api/tickets/${ticket.id}/messages`;
    const bad = await api('POST', url, {
      body: '',
      bodyHtml: 5,
      direction: 'sideways',
      authorId: 'someone',
      channel: 'pigeon',
      attachments: [],
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('validation_failed');
    expect(fields(bad)).toEqual([
      'attachments',
      'authorId',
      'body',
      'bodyHtml',
      'channel',
      'direction',
    ]);
    expect(fields(await api('POST', url, {}))).toEqual(['body']);
    expect(fields(await api('POST', url, { body: 'b'.repeat(100_001) }))).toEqual(['body']);
    expect(fields(await api('POST', url, { body: 'b', bodyHtml: 'h'.repeat(500_001) }))).toEqual([
      'bodyHtml',
    ]);
    const rows = await h.db
      .selectFrom('messages')
      .select('id')
      .where('ticket_id', '=', ticket.id)
      .execute();
    expect(rows).toHaveLength(0);
  });

  it('lists messages oldest first and pages with a cursor', async () => {
    const api = caller(h, await h.createOrg());
    const ticket = await newTicket(api);
    const other = await newTicket(api);
    await api('POST', `/api/tickets/${other.id}/messages`, { body: 'elsewhere' });
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      h.clock.advance(1000);
      const res = await api('POST', `/api/tickets/${ticket.id}/messages`, {
        body: `m${i}`,
        direction: i % 2 ? 'inbound' : 'outbound',
      });
      sent.push(res.json().id);
    }
    const all = await api('GET', `/api/tickets/${ticket.id}/messages`);
    expect(all.statusCode).toBe(200);
    expect(all.json().data.map((m: { body: string }) => m.body)).toEqual([
      'm0',
      'm1',
      'm2',
      'm3',
      'm4',
    ]);
    expect(all.json().nextCursor).toBeNull();

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/api/tickets/${ticket.id}/messages?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await api('GET', url)).json();
      seen.push(...page.data.map((m: { id: string }) => m.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(sent);

    const badQuery = await api('GET', `/api/tickets/${ticket.id}/messages?limit=x&direction=in`);
    expect(badQuery.statusCode).toBe(400);
    expect(fields(badQuery)).toEqual(['direction', 'limit']);
  });

  it("answers 404 for another organization's tickets and never shows their messages", async () => {
    const a = caller(h, await h.createOrg());
    const b = caller(h, await h.createOrg());
    const theirs = await newTicket(b);
    await b('POST', `/api/tickets/${theirs.id}/messages`, { body: 'private' });

    for (const id of [theirs.id, '0190a6f0-0000-7000-8000-000000000000', 'nope']) {
      const list = await a('GET', `/api/tickets/${id}/messages`);
      expect(list.statusCode).toBe(404);
      expect(list.json().error.code).toBe('not_found');
      const post = await a('POST', `/api/tickets/${id}/messages`, { body: 'intrusion' });
      expect(post.statusCode).toBe(404);
    }
    const stored = await h.db
      .selectFrom('messages')
      .select('body')
      .where('ticket_id', '=', theirs.id)
      .execute();
    expect(stored.map((m) => m.body)).toEqual(['private']);
    const events = await h.db
      .selectFrom('events')
      .select('type')
      .where('ticket_id', '=', theirs.id)
      .where('type', '=', 'message.created')
      .execute();
    expect(events).toHaveLength(1);
  });
});
