import { expect, it } from 'vitest';
import { forEachDialect, type Harness, type Org } from './support/harness.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

function caller(h: Harness, org: Org) {
  return (method: Method, url: string, payload?: object) =>
    h.request({ method, url, key: org.apiKey, ...(payload !== undefined ? { payload } : {}) });
}

function fields(res: { json: () => any }): string[] {
  return res
    .json()
    .error.details.map((d: { field: string }) => d.field)
    .sort();
}

const ids = (page: { data: { id: string }[] }) => page.data.map((t) => t.id);

async function addAgent(h: Harness, org: Org, email: string): Promise<string> {
  const res = await caller(h, org)('POST', '/api/users', { email, name: email });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
}

forEachDialect('tickets', (h) => {
  it('creates a ticket with defaults, a new requester contact and de-duplicated tags', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    const res = await api('POST', '/api/tickets', {
      subject: 'Printer on fire',
      requester: { email: 'Carol@Example.com', name: 'Carol' },
      tags: ['hardware', 'urgent', 'hardware', 'fire'],
    });
    expect(res.statusCode).toBe(201);
    const ticket = res.json();
    const now = new Date(h.clock.now()).toISOString();
    expect(ticket).toEqual({
      id: expect.any(String),
      number: 1,
      organizationId: org.organizationId,
      subject: 'Printer on fire',
      description: null,
      status: 'open',
      priority: 'normal',
      channel: 'api',
      requester: {
        contactId: expect.any(String),
        email: 'carol@example.com',
        phone: null,
        name: 'Carol',
      },
      assigneeId: null,
      tags: ['hardware', 'urgent', 'fire'],
      // The default SLA policy: normal priority, 8 h to first response, 2 days to resolution.
      firstResponseDueAt: new Date(Date.parse(now) + 480 * 60_000).toISOString(),
      resolutionDueAt: new Date(Date.parse(now) + 2_880 * 60_000).toISOString(),
      sla: {
        firstResponse: {
          dueAt: new Date(Date.parse(now) + 480 * 60_000).toISOString(),
          state: 'running',
        },
        resolution: {
          dueAt: new Date(Date.parse(now) + 2_880 * 60_000).toISOString(),
          state: 'running',
        },
      },
      createdAt: now,
      updatedAt: now,
      resolvedAt: null,
      closedAt: null,
    });
    const contact = (await api('GET', `/api/contacts/${ticket.requester.contactId}`)).json();
    expect(contact).toMatchObject({ email: 'carol@example.com', name: 'Carol' });
    const got = await api('GET', `/api/tickets/${ticket.id}`);
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(ticket);

    const full = await api('POST', '/api/tickets', {
      subject: 'Call me',
      description: 'Details',
      priority: 'urgent',
      channel: 'sms',
      requester: { phone: '+1 555 010 9999' },
      assigneeId: org.adminUserId,
    });
    expect(full.statusCode).toBe(201);
    expect(full.json()).toMatchObject({
      number: 2,
      description: 'Details',
      priority: 'urgent',
      channel: 'sms',
      assigneeId: org.adminUserId,
      requester: { email: null, phone: '+15550109999', name: null },
    });
  });

  it('finds the requester by email, then by phone, reuses it and fills in a missing name', async () => {
    const api = caller(h, await h.createOrg());
    const first = (
      await api('POST', '/api/tickets', {
        subject: 'One',
        requester: { email: 'dan@example.com', phone: '+31 20 555 0101' },
      })
    ).json();
    const contactId = first.requester.contactId;
    expect(first.requester.name).toBeNull();

    const byEmail = (
      await api('POST', '/api/tickets', {
        subject: 'Two',
        requester: { email: 'DAN@example.com', name: 'Dan' },
      })
    ).json();
    expect(byEmail.requester).toEqual({
      contactId,
      email: 'dan@example.com',
      phone: '+31205550101',
      name: 'Dan',
    });

    const byPhone = (
      await api('POST', '/api/tickets', {
        subject: 'Three',
        requester: { phone: '+31-20-555-0101', name: 'Daniel' },
      })
    ).json();
    expect(byPhone.requester.contactId).toBe(contactId);
    expect(byPhone.requester.name).toBe('Dan');

    // An unknown email with a known phone is the phone's contact.
    const byPhoneOnly = (
      await api('POST', '/api/tickets', {
        subject: 'Three b',
        requester: { email: 'not-dan@example.com', phone: '+31205550101' },
      })
    ).json();
    expect(byPhoneOnly.requester).toEqual({
      contactId,
      email: 'dan@example.com',
      phone: '+31205550101',
      name: 'Dan',
    });

    // Email wins over phone when they point at different contacts.
    const other = (
      await api('POST', '/api/tickets', {
        subject: 'Four',
        requester: { email: 'eve@example.com' },
      })
    ).json();
    const mixed = (
      await api('POST', '/api/tickets', {
        subject: 'Five',
        requester: { email: 'eve@example.com', phone: '+31205550101' },
      })
    ).json();
    expect(mixed.requester.contactId).toBe(other.requester.contactId);

    const contacts = (await api('GET', '/api/contacts')).json();
    expect(contacts.data).toHaveLength(2);
    // Reading a ticket shows the contact as it is now.
    await api('PATCH', `/api/contacts/${contactId}`, { name: 'Daniel D.' });
    expect((await api('GET', `/api/tickets/${first.id}`)).json().requester.name).toBe('Daniel D.');
  });

  it('numbers tickets per organization', async () => {
    const a = caller(h, await h.createOrg());
    const b = caller(h, await h.createOrg());
    const post = (api: typeof a, subject: string) =>
      api('POST', '/api/tickets', { subject, requester: { email: 'n@example.com' } }).then(
        (r) => r.json().number as number,
      );
    expect(await post(a, 'a1')).toBe(1);
    expect(await post(a, 'a2')).toBe(2);
    expect(await post(b, 'b1')).toBe(1);
    expect(await post(a, 'a3')).toBe(3);
    expect(await post(b, 'b2')).toBe(2);
    // A rejected ticket does not use up a number.
    await a('POST', '/api/tickets', { subject: 'bad', requester: {} });
    expect(await post(a, 'a4')).toBe(4);
  });

  it('lists every problem of an invalid ticket by field and stores nothing', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    const schema = await api('POST', '/api/tickets', {
      subject: 'x'.repeat(501),
      priority: 'asap',
      channel: 'fax',
      requester: { email: 'nope', fax: '123' },
      tags: ['ok', '', 'y'.repeat(51)],
      assigneeId: 'not-a-uuid',
      extra: true,
    });
    expect(schema.statusCode).toBe(400);
    expect(schema.json().error.code).toBe('validation_failed');
    expect(fields(schema)).toEqual([
      'assigneeId',
      'channel',
      'extra',
      'priority',
      'requester.email',
      'requester.fax',
      'subject',
      'tags[1]',
      'tags[2]',
    ]);

    const missing = await api('POST', '/api/tickets', {});
    expect(fields(missing)).toEqual(['requester', 'subject']);
    const tooMany = await api('POST', '/api/tickets', {
      subject: 's',
      description: 'd'.repeat(100_001),
      requester: { email: 'a@example.com' },
      tags: Array.from({ length: 51 }, (_, i) => `t${i}`),
    });
    expect(fields(tooMany)).toEqual(['description', 'tags']);

    const other = await h.createOrg();
    const semantic = await api('POST', '/api/tickets', {
      subject: 'Hi',
      requester: { name: 'No way to reach me' },
      assigneeId: other.adminUserId,
    });
    expect(semantic.statusCode).toBe(400);
    expect(fields(semantic)).toEqual(['assigneeId', 'requester.email']);
    const badPhone = await api('POST', '/api/tickets', {
      subject: 'Hi',
      requester: { phone: '12' },
      assigneeId: '0190a6f0-0000-7000-8000-000000000000',
    });
    expect(fields(badPhone)).toEqual(['assigneeId', 'requester.phone']);

    for (const table of ['tickets', 'contacts', 'events'] as const) {
      const rows = await h.db
        .selectFrom(table)
        .select('id')
        .where('organization_id', '=', org.organizationId)
        .execute();
      expect(rows, table).toHaveLength(0);
    }
  });

  it('filters by status, assignee, contact and requester, newest first, and pages with a cursor', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    const agent = await addAgent(h, org, 'filter-agent@example.com');
    const made: { id: string; contactId: string }[] = [];
    const specs = [
      { email: 'f1@example.com', assigneeId: agent },
      { phone: '+15551110001' },
      { email: 'f1@example.com' },
      { email: 'f2@example.com', phone: '+15551110002', assigneeId: agent },
      { phone: '+15551110001' },
    ];
    for (const [i, s] of specs.entries()) {
      h.clock.advance(1000);
      const { assigneeId, ...requester } = s;
      const t = (
        await api('POST', '/api/tickets', {
          subject: `t${i}`,
          requester,
          ...(assigneeId ? { assigneeId } : {}),
        })
      ).json();
      made.push({ id: t.id, contactId: t.requester.contactId });
    }
    const [t0, t1, t2, t3, t4] = made.map((m) => m.id);
    await api('PATCH', `/api/tickets/${t1}`, { status: 'pending' });
    await api('PATCH', `/api/tickets/${t3}`, { status: 'pending' });

    const all = (await api('GET', '/api/tickets')).json();
    expect(ids(all)).toEqual([t4, t3, t2, t1, t0]);
    expect(all.nextCursor).toBeNull();
    expect(ids((await api('GET', '/api/tickets?status=pending')).json())).toEqual([t3, t1]);
    expect(ids((await api('GET', `/api/tickets?assigneeId=${agent}`)).json())).toEqual([t3, t0]);
    expect(ids((await api('GET', `/api/tickets?assigneeId=${agent}&status=open`)).json())).toEqual([
      t0,
    ]);
    expect(ids((await api('GET', `/api/tickets?contactId=${made[1]!.contactId}`)).json())).toEqual([
      t4,
      t1,
    ]);
    expect(ids((await api('GET', '/api/tickets?requester=F1@example.com')).json())).toEqual([
      t2,
      t0,
    ]);
    const phone = encodeURIComponent('+1 (555) 111-0002');
    expect(ids((await api('GET', `/api/tickets?requester=${phone}`)).json())).toEqual([t3]);
    expect((await api('GET', '/api/tickets?requester=ghost@example.com')).json().data).toEqual([]);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/api/tickets?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await api('GET', url)).json();
      seen.push(...ids(page));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([t4, t3, t2, t1, t0]);

    const bad = await api('GET', '/api/tickets?status=done&assigneeId=x&limit=500&cursor=zz&q=1');
    expect(bad.statusCode).toBe(400);
    expect(fields(bad)).toEqual(['assigneeId', 'limit', 'q', 'status']);
  });

  it('patches fields, stamps resolvedAt and closedAt, and clears them on reopening', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    const agent = await addAgent(h, org, 'patch-agent@example.com');
    const t = (
      await api('POST', '/api/tickets', {
        subject: 'Old',
        requester: { email: 'pat@example.com' },
        tags: ['a'],
      })
    ).json();
    const at = () => new Date(h.clock.now()).toISOString();

    h.clock.advance(1000);
    const edited = await api('PATCH', `/api/tickets/${t.id}`, {
      subject: 'New',
      priority: 'high',
      assigneeId: agent,
      tags: ['b', 'a', 'b'],
    });
    expect(edited.statusCode).toBe(200);
    expect(edited.json()).toMatchObject({
      subject: 'New',
      priority: 'high',
      assigneeId: agent,
      tags: ['b', 'a'],
      updatedAt: at(),
      createdAt: t.createdAt,
    });

    h.clock.advance(1000);
    const resolved = (await api('PATCH', `/api/tickets/${t.id}`, { status: 'resolved' })).json();
    expect(resolved).toMatchObject({ status: 'resolved', resolvedAt: at(), closedAt: null });
    const resolvedAt = at();

    h.clock.advance(1000);
    const closed = (await api('PATCH', `/api/tickets/${t.id}`, { status: 'closed' })).json();
    expect(closed).toMatchObject({ status: 'closed', resolvedAt, closedAt: at() });

    h.clock.advance(1000);
    const reopened = (await api('PATCH', `/api/tickets/${t.id}`, { status: 'open' })).json();
    expect(reopened).toMatchObject({ status: 'open', resolvedAt: null, closedAt: null });

    h.clock.advance(1000);
    const closedDirectly = (
      await api('PATCH', `/api/tickets/${t.id}`, { status: 'closed' })
    ).json();
    expect(closedDirectly).toMatchObject({ resolvedAt: null, closedAt: at() });
    h.clock.advance(1000);
    const resolvedAfterClose = (
      await api('PATCH', `/api/tickets/${t.id}`, { status: 'resolved' })
    ).json();
    expect(resolvedAfterClose).toMatchObject({ resolvedAt: at(), closedAt: null });
    h.clock.advance(1000);
    const pending = (await api('PATCH', `/api/tickets/${t.id}`, { status: 'pending' })).json();
    expect(pending).toMatchObject({ status: 'pending', resolvedAt: null, closedAt: null });

    const unassigned = (await api('PATCH', `/api/tickets/${t.id}`, { assigneeId: null })).json();
    expect(unassigned.assigneeId).toBeNull();
    expect((await api('GET', `/api/tickets/${t.id}`)).json()).toEqual(unassigned);
  });

  it('treats a patch with the same values (tags as a set) as no change', async () => {
    const api = caller(h, await h.createOrg());
    const t = (
      await api('POST', '/api/tickets', {
        subject: 'Same',
        requester: { email: 'same@example.com' },
        tags: ['x', 'y'],
      })
    ).json();
    h.clock.advance(5000);
    const res = await api('PATCH', `/api/tickets/${t.id}`, {
      subject: 'Same',
      priority: 'normal',
      status: 'open',
      assigneeId: null,
      tags: ['y', 'x', 'y'],
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(t);
    expect((await api('PATCH', `/api/tickets/${t.id}`, {})).json()).toEqual(t);
    expect((await api('GET', `/api/tickets/${t.id}`)).json()).toEqual(t);
  });

  it('rejects invalid patches by field and changes nothing', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    const other = await h.createOrg();
    const t = (
      await api('POST', '/api/tickets', { subject: 'Keep', requester: { email: 'k@example.com' } })
    ).json();
    const schema = await api('PATCH', `/api/tickets/${t.id}`, {
      subject: '',
      status: 'done',
      priority: 'meh',
      assigneeId: 42,
      tags: 'a',
      description: 'not patchable',
    });
    expect(schema.statusCode).toBe(400);
    expect(fields(schema)).toEqual([
      'assigneeId',
      'description',
      'priority',
      'status',
      'subject',
      'tags',
    ]);
    const foreign = await api('PATCH', `/api/tickets/${t.id}`, {
      subject: 'Changed',
      assigneeId: other.adminUserId,
    });
    expect(foreign.statusCode).toBe(400);
    expect(fields(foreign)).toEqual(['assigneeId']);
    expect((await api('GET', `/api/tickets/${t.id}`)).json()).toEqual(t);
  });

  it("answers 404 for unknown ids and another organization's tickets, and never lists them", async () => {
    const a = caller(h, await h.createOrg());
    const b = caller(h, await h.createOrg());
    const theirs = (
      await b('POST', '/api/tickets', { subject: 'B only', requester: { email: 'b@example.com' } })
    ).json();
    const mine = (
      await a('POST', '/api/tickets', { subject: 'A', requester: { email: 'b@example.com' } })
    ).json();
    expect(mine.requester.contactId).not.toBe(theirs.requester.contactId);

    for (const id of [theirs.id, '0190a6f0-0000-7000-8000-000000000000', 'nope']) {
      const get = await a('GET', `/api/tickets/${id}`);
      expect(get.statusCode).toBe(404);
      expect(get.json().error.code).toBe('not_found');
      expect((await a('PATCH', `/api/tickets/${id}`, { status: 'closed' })).statusCode).toBe(404);
    }
    expect(ids((await a('GET', '/api/tickets')).json())).toEqual([mine.id]);
    expect(
      (await a('GET', `/api/tickets?contactId=${theirs.requester.contactId}`)).json().data,
    ).toEqual([]);
    expect((await b('GET', `/api/tickets/${theirs.id}`)).json().status).toBe('open');
  });

  it('unassigns the tickets of a deleted user', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    const agent = await addAgent(h, org, 'leaving@example.com');
    const held = [];
    for (const subject of ['h1', 'h2']) {
      held.push(
        (
          await api('POST', '/api/tickets', {
            subject,
            requester: { email: 'x@example.com' },
            assigneeId: agent,
          })
        ).json(),
      );
    }
    const kept = (
      await api('POST', '/api/tickets', {
        subject: 'admin',
        requester: { email: 'x@example.com' },
        assigneeId: org.adminUserId,
      })
    ).json();
    h.clock.advance(1000);
    expect((await api('DELETE', `/api/users/${agent}`)).statusCode).toBe(204);
    for (const t of held) {
      const now = (await api('GET', `/api/tickets/${t.id}`)).json();
      expect(now.assigneeId).toBeNull();
      expect(now.updatedAt).toBe(new Date(h.clock.now()).toISOString());
    }
    expect((await api('GET', `/api/tickets/${kept.id}`)).json().assigneeId).toBe(org.adminUserId);
    expect((await api('GET', `/api/tickets?assigneeId=${agent}`)).json().data).toEqual([]);
  });
  it('gives concurrent tickets distinct numbers and one contact for the same new requester', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        api('POST', '/api/tickets', {
          subject: `c${i}`,
          requester: { email: 'rush@example.com', name: `Rush ${i}` },
        }),
      ),
    );
    expect(results.map((r) => r.statusCode)).toEqual([201, 201, 201, 201, 201, 201]);
    const tickets = results.map((r) => r.json());
    expect(tickets.map((t) => t.number).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(tickets.map((t) => t.requester.contactId)).size).toBe(1);
  });
});
