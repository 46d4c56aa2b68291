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

forEachDialect('contacts', (h) => {
  it('creates a contact with a lowercased email and a normalized phone, and reads it back', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    const res = await api('POST', '/api/contacts', {
      email: 'Ann.Lee@Example.COM',
      phone: '+1 (555) 010-2000',
      name: 'Ann Lee',
    });
    expect(res.statusCode).toBe(201);
    const contact = res.json();
    expect(contact).toEqual({
      id: expect.any(String),
      organizationId: org.organizationId,
      email: 'ann.lee@example.com',
      phone: '+15550102000',
      name: 'Ann Lee',
      createdAt: new Date(h.clock.now()).toISOString(),
      updatedAt: new Date(h.clock.now()).toISOString(),
    });
    const got = await api('GET', `/api/contacts/${contact.id}`);
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(contact);

    const phoneOnly = await api('POST', '/api/contacts', { phone: '555.010.3000' });
    expect(phoneOnly.statusCode).toBe(201);
    expect(phoneOnly.json()).toMatchObject({ email: null, phone: '5550103000', name: null });
  });

  it('lists every problem of an invalid contact by field', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    const none = await api('POST', '/api/contacts', { name: 'Nobody' });
    expect(none.statusCode).toBe(400);
    expect(none.json().error.code).toBe('validation_failed');
    expect(fields(none)).toEqual(['email']);

    const badPhone = await api('POST', '/api/contacts', { phone: '12-34' });
    expect(badPhone.statusCode).toBe(400);
    expect(fields(badPhone)).toEqual(['phone']);
    expect(
      (await api('POST', '/api/contacts', { phone: '+12345678901234567890123' })).statusCode,
    ).toBe(400);
    expect((await api('POST', '/api/contacts', { phone: '555-CALL-NOW' })).statusCode).toBe(400);

    const several = await api('POST', '/api/contacts', {
      email: 'not-an-email',
      name: '',
      nickname: 'x',
    });
    expect(several.statusCode).toBe(400);
    expect(fields(several)).toEqual(['email', 'name', 'nickname']);

    const stored = await h.db
      .selectFrom('contacts')
      .select('id')
      .where('organization_id', '=', org.organizationId)
      .execute();
    expect(stored).toHaveLength(0);
  });

  it('answers 409 naming the field when an email or phone is already used in the organization', async () => {
    const org = await h.createOrg();
    const api = caller(h, org);
    await api('POST', '/api/contacts', { email: 'dup@example.com', phone: '+44 20 7946 0000' });

    const email = await api('POST', '/api/contacts', { email: 'DUP@example.com' });
    expect(email.statusCode).toBe(409);
    expect(email.json().error.code).toBe('conflict');
    expect(fields(email)).toEqual(['email']);

    const phone = await api('POST', '/api/contacts', { phone: '+442079460000' });
    expect(phone.statusCode).toBe(409);
    expect(fields(phone)).toEqual(['phone']);

    const both = await api('POST', '/api/contacts', {
      email: 'dup@example.com',
      phone: '+44-20-7946-0000',
    });
    expect(both.statusCode).toBe(409);
    expect(fields(both)).toEqual(['email', 'phone']);

    // Uniqueness is per organization.
    const other = caller(h, await h.createOrg());
    expect((await other('POST', '/api/contacts', { email: 'dup@example.com' })).statusCode).toBe(
      201,
    );
  });

  it('lists newest first, filters by email and phone, and pages with a cursor', async () => {
    const api = caller(h, await h.createOrg());
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      h.clock.advance(1000);
      const res = await api('POST', '/api/contacts', {
        email: `p${i}@example.com`,
        phone: `+3160000000${i}`,
      });
      ids.push(res.json().id);
    }
    const all = await api('GET', '/api/contacts');
    expect(all.statusCode).toBe(200);
    expect(all.json().data.map((c: { id: string }) => c.id)).toEqual([...ids].reverse());
    expect(all.json().nextCursor).toBeNull();

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/api/contacts?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await api('GET', url)).json();
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((c: { id: string }) => c.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());

    const byEmail = (await api('GET', '/api/contacts?email=P3@Example.com')).json();
    expect(byEmail.data.map((c: { id: string }) => c.id)).toEqual([ids[3]]);
    const byPhone = (
      await api('GET', `/api/contacts?phone=${encodeURIComponent('+31 6000 000-01')}`)
    ).json();
    expect(byPhone.data.map((c: { id: string }) => c.id)).toEqual([ids[1]]);
    expect((await api('GET', '/api/contacts?email=nobody@example.com')).json().data).toEqual([]);

    const badCursor = await api('GET', '/api/contacts?cursor=nope');
    expect(badCursor.statusCode).toBe(400);
    expect(fields(badCursor)).toEqual(['cursor']);
    const badLimit = await api('GET', '/api/contacts?limit=0&colour=red');
    expect(badLimit.statusCode).toBe(400);
    expect(fields(badLimit)).toEqual(['colour', 'limit']);
  });

  it('updates name, email and phone, and a patch that changes nothing keeps updatedAt', async () => {
    const api = caller(h, await h.createOrg());
    const created = (await api('POST', '/api/contacts', { email: 'bo@example.com' })).json();
    await api('POST', '/api/contacts', { email: 'taken@example.com', phone: '+15550000001' });

    h.clock.advance(60_000);
    const patched = await api('PATCH', `/api/contacts/${created.id}`, {
      name: 'Bo',
      email: 'BO2@example.com',
      phone: '(555) 000-0002',
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({
      name: 'Bo',
      email: 'bo2@example.com',
      phone: '5550000002',
      createdAt: created.createdAt,
      updatedAt: new Date(h.clock.now()).toISOString(),
    });

    h.clock.advance(60_000);
    const same = await api('PATCH', `/api/contacts/${created.id}`, {
      name: 'Bo',
      email: 'bo2@example.com',
      phone: '555-000-0002',
    });
    expect(same.statusCode).toBe(200);
    expect(same.json()).toEqual(patched.json());

    const removed = await api('PATCH', `/api/contacts/${created.id}`, { phone: null, name: null });
    expect(removed.json()).toMatchObject({ email: 'bo2@example.com', phone: null, name: null });

    const conflict = await api('PATCH', `/api/contacts/${created.id}`, {
      email: 'taken@example.com',
      phone: '+1 555 000 0001',
    });
    expect(conflict.statusCode).toBe(409);
    expect(fields(conflict)).toEqual(['email', 'phone']);

    const nothingLeft = await api('PATCH', `/api/contacts/${created.id}`, { email: null });
    expect(nothingLeft.statusCode).toBe(400);
    expect(fields(nothingLeft)).toEqual(['email']);

    const invalid = await api('PATCH', `/api/contacts/${created.id}`, {
      phone: 'abc',
      email: 'nope',
      role: 'x',
    });
    expect(invalid.statusCode).toBe(400);
    expect(fields(invalid)).toEqual(['email', 'role']);
    const badPhone = await api('PATCH', `/api/contacts/${created.id}`, { phone: 'abc' });
    expect(fields(badPhone)).toEqual(['phone']);

    const after = (await api('GET', `/api/contacts/${created.id}`)).json();
    expect(after).toEqual(removed.json());
  });

  it("answers 404 for unknown ids and another organization's contacts, and never lists them", async () => {
    const a = caller(h, await h.createOrg());
    const b = caller(h, await h.createOrg());
    const theirs = (await b('POST', '/api/contacts', { email: 'secret@example.com' })).json();
    const mine = (await a('POST', '/api/contacts', { email: 'mine@example.com' })).json();

    for (const id of [theirs.id, '0190a6f0-0000-7000-8000-000000000000', 'not-a-uuid']) {
      const get = await a('GET', `/api/contacts/${id}`);
      expect(get.statusCode).toBe(404);
      expect(get.json().error.code).toBe('not_found');
      expect((await a('PATCH', `/api/contacts/${id}`, { name: 'Mine now' })).statusCode).toBe(404);
    }
    expect((await b('GET', `/api/contacts/${theirs.id}`)).json().name).toBeNull();

    const list = (await a('GET', '/api/contacts')).json();
    expect(list.data.map((c: { id: string }) => c.id)).toEqual([mine.id]);
    expect((await a('GET', '/api/contacts?email=secret@example.com')).json().data).toEqual([]);
  });
});
