import { expect, it } from 'vitest';
import { forEachDialect } from './support/harness.js';

forEachDialect('users', (h) => {
  it('creates, reads, updates and lists users', async () => {
    const org = await h.createOrg();
    const created = await h.request({
      method: 'POST',
      url: '/api/users',
      key: org.apiKey,
      payload: { email: 'Sam@Example.com', name: 'Sam', role: 'agent' },
    });
    expect(created.statusCode).toBe(201);
    const user = created.json();
    expect(user).toMatchObject({
      email: 'sam@example.com',
      name: 'Sam',
      role: 'agent',
      organizationId: org.organizationId,
    });
    expect(
      (await h.request({ method: 'GET', url: `/api/users/${user.id}`, key: org.apiKey })).json(),
    ).toEqual(user);
    h.clock.advance(1000);
    const patched = await h.request({
      method: 'PATCH',
      url: `/api/users/${user.id}`,
      key: org.apiKey,
      payload: { name: 'Samantha', role: 'admin' },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ name: 'Samantha', role: 'admin' });
    expect(patched.json().updatedAt).not.toBe(user.updatedAt);
    const admins = await h.request({
      method: 'GET',
      url: '/api/users?role=admin',
      key: org.apiKey,
    });
    expect(
      admins
        .json()
        .data.map((u: { id: string }) => u.id)
        .sort(),
    ).toEqual([org.adminUserId, user.id].sort());
  });

  it('refuses a duplicate email with 409 and the field named', async () => {
    const org = await h.createOrg();
    const payload = { email: 'dup@example.com', name: 'A' };
    expect(
      (await h.request({ method: 'POST', url: '/api/users', key: org.apiKey, payload })).statusCode,
    ).toBe(201);
    const again = await h.request({
      method: 'POST',
      url: '/api/users',
      key: org.apiKey,
      payload: { ...payload, email: 'DUP@example.com' },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatchObject({ code: 'conflict', details: [{ field: 'email' }] });
    // The same email in another organization is fine.
    const other = await h.createOrg();
    expect(
      (await h.request({ method: 'POST', url: '/api/users', key: other.apiKey, payload }))
        .statusCode,
    ).toBe(201);
  });

  it('keeps at least one admin', async () => {
    const org = await h.createOrg();
    const demote = await h.request({
      method: 'PATCH',
      url: `/api/users/${org.adminUserId}`,
      key: org.apiKey,
      payload: { role: 'agent' },
    });
    expect(demote.statusCode).toBe(409);
    const del = await h.request({
      method: 'DELETE',
      url: `/api/users/${org.adminUserId}`,
      key: org.apiKey,
    });
    expect(del.statusCode).toBe(409);
    const row = await h.db
      .selectFrom('users')
      .select('role')
      .where('id', '=', org.adminUserId)
      .executeTakeFirstOrThrow();
    expect(row.role).toBe('admin');
  });

  it('deletes a user and revokes their keys', async () => {
    const org = await h.createOrg();
    const agent = (
      await h.request({
        method: 'POST',
        url: '/api/users',
        key: org.apiKey,
        payload: { email: 'gone@example.com', name: 'Gone' },
      })
    ).json();
    const key = (
      await h.request({
        method: 'POST',
        url: '/api/api-keys',
        key: org.apiKey,
        payload: { name: 'k', userId: agent.id },
      })
    ).json();
    expect((await h.request({ method: 'GET', url: '/api/users', key: key.key })).statusCode).toBe(
      200,
    );
    expect(
      (await h.request({ method: 'DELETE', url: `/api/users/${agent.id}`, key: org.apiKey }))
        .statusCode,
    ).toBe(204);
    expect(
      (await h.request({ method: 'GET', url: `/api/users/${agent.id}`, key: org.apiKey }))
        .statusCode,
    ).toBe(404);
    expect((await h.request({ method: 'GET', url: '/api/users', key: key.key })).statusCode).toBe(
      401,
    );
  });

  it("cannot see or change another organization's users", async () => {
    const a = await h.createOrg();
    const b = await h.createOrg();
    const list = (await h.request({ method: 'GET', url: '/api/users', key: a.apiKey })).json();
    expect(list.data.map((u: { id: string }) => u.id)).toEqual([a.adminUserId]);
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const res = await h.request({
        method,
        url: `/api/users/${b.adminUserId}`,
        key: a.apiKey,
        ...(method === 'PATCH' ? { payload: { name: 'hijacked' } } : {}),
      });
      expect(res.statusCode, method).toBe(404);
    }
    const row = await h.db
      .selectFrom('users')
      .select('name')
      .where('id', '=', b.adminUserId)
      .executeTakeFirstOrThrow();
    expect(row.name).not.toBe('hijacked');
  });
});
