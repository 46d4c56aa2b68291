import { expect, it } from 'vitest';
import { hashApiKey } from '../src/api-keys/keys.js';
import { forEachDialect } from './support/harness.js';

forEachDialect('authentication and API keys', (h) => {
  it('rejects requests without a key, with a malformed header, or with an unknown key', async () => {
    for (const authorization of [undefined, 'Basic abc', 'Bearer', 'Bearer hdk_unknown']) {
      const res = await h.request({
        method: 'GET',
        url: '/api/users',
        headers: authorization ? { authorization } : {},
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('unauthorized');
    }
  });

  it('stores only a hash of each key, never the key itself', async () => {
    const org = await h.createOrg();
    const created = await h.request({
      method: 'POST',
      url: '/api/api-keys',
      key: org.apiKey,
      payload: { name: 'ci' },
    });
    expect(created.statusCode).toBe(201);
    const { key, prefix } = created.json();
    expect(key).toMatch(/^hdk_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(prefix)).toBe(true);
    const rows = await h.db
      .selectFrom('api_keys')
      .selectAll()
      .where('organization_id', '=', org.organizationId)
      .execute();
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(Object.values(row)).not.toContain(key);
      expect(Object.values(row)).not.toContain(org.apiKey);
      expect(JSON.stringify(row)).not.toContain(key.slice(prefix.length));
    }
    expect(rows.map((r) => r.key_hash)).toContain(hashApiKey(key));
  });

  it('lists keys by prefix only, and a revoked key stops working', async () => {
    const org = await h.createOrg();
    const created = (
      await h.request({
        method: 'POST',
        url: '/api/api-keys',
        key: org.apiKey,
        payload: { name: 'temp' },
      })
    ).json();
    const list = await h.request({ method: 'GET', url: '/api/api-keys', key: org.apiKey });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(created.key);
    expect(
      list
        .json()
        .data.map((k: { name: string }) => k.name)
        .sort(),
    ).toEqual(['Initial admin key', 'temp']);
    expect(
      (await h.request({ method: 'GET', url: '/api/users', key: created.key })).statusCode,
    ).toBe(200);
    const del = await h.request({
      method: 'DELETE',
      url: `/api/api-keys/${created.id}`,
      key: org.apiKey,
    });
    expect(del.statusCode).toBe(204);
    expect(
      (await h.request({ method: 'GET', url: '/api/users', key: created.key })).statusCode,
    ).toBe(401);
    expect(
      (await h.request({ method: 'DELETE', url: `/api/api-keys/${created.id}`, key: org.apiKey }))
        .statusCode,
    ).toBe(404);
  });

  it('lets only admins manage keys and users', async () => {
    const org = await h.createOrg();
    const agent = (
      await h.request({
        method: 'POST',
        url: '/api/users',
        key: org.apiKey,
        payload: { email: 'agent@example.com', name: 'Agent' },
      })
    ).json();
    expect(agent.role).toBe('agent');
    const agentKey = (
      await h.request({
        method: 'POST',
        url: '/api/api-keys',
        key: org.apiKey,
        payload: { name: 'agent', userId: agent.id },
      })
    ).json();
    expect(agentKey.userId).toBe(agent.id);
    const asAgent = (method: 'GET' | 'POST', url: string, payload?: object) =>
      h.request({ method, url, key: agentKey.key, ...(payload ? { payload } : {}) });
    expect((await asAgent('GET', '/api/users')).statusCode).toBe(200);
    const denied = await asAgent('POST', '/api/users', { email: 'x@example.com', name: 'X' });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error.code).toBe('forbidden');
    expect((await asAgent('GET', '/api/api-keys')).statusCode).toBe(403);
    expect((await asAgent('POST', '/api/api-keys', { name: 'mine' })).statusCode).toBe(403);
    const users = await h.db
      .selectFrom('users')
      .select('email')
      .where('organization_id', '=', org.organizationId)
      .execute();
    expect(users.map((u) => u.email)).not.toContain('x@example.com');
  });

  it("answers 404 for another organization's keys and users", async () => {
    const a = await h.createOrg();
    const b = await h.createOrg();
    const bKey = (
      await h.request({
        method: 'POST',
        url: '/api/api-keys',
        key: b.apiKey,
        payload: { name: 'b' },
      })
    ).json();
    expect(
      (await h.request({ method: 'DELETE', url: `/api/api-keys/${bKey.id}`, key: a.apiKey }))
        .statusCode,
    ).toBe(404);
    expect(
      (await h.request({ method: 'GET', url: `/api/users/${b.adminUserId}`, key: a.apiKey }))
        .statusCode,
    ).toBe(404);
    expect(
      (
        await h.request({
          method: 'POST',
          url: '/api/api-keys',
          key: a.apiKey,
          payload: { name: 'x', userId: b.adminUserId },
        })
      ).statusCode,
    ).toBe(404);
    expect(
      (await h.request({ method: 'GET', url: '/api/users/not-a-uuid', key: a.apiKey })).statusCode,
    ).toBe(404);
    // b's key still works: a's attempt changed nothing.
    expect((await h.request({ method: 'GET', url: '/api/users', key: bKey.key })).statusCode).toBe(
      200,
    );
  });
});
