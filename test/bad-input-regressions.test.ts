/**
 * The bugs the bad-input properties found, each pinned by a plain test so a
 * regression fails here with a readable name, whatever the random runs pick.
 */
import { expect, it } from 'vitest';
import { forEachDialect } from './support/harness.js';
import { checkAnswer, errorOf, type Res } from './support/fuzz.js';
import { createTicket, createWebhook } from './support/webhooks.js';

forEachDialect('bad input: regressions', (h) => {
  const get = async (url: string, key: string): Promise<Res> => {
    const res = await h.request({ method: 'GET', url, key });
    checkAnswer({ method: 'GET', url, headers: {} }, res);
    return res;
  };

  it('answers malformed paths in the error format (bad percent-encoding, over-long ids)', async () => {
    const org = await h.createOrg();
    // Fastify used to answer these itself: {"error":"Bad Request","code":"FST_ERR_BAD_URL",…}
    // and a 414 for parameters over 100 characters.
    for (const url of [
      '/api/users/%zz',
      '/api/users/%C0%AF',
      '/api/tickets/%E2%82/messages',
      `/api/users/${'x'.repeat(101)}`,
    ]) {
      const res = await get(url, org.apiKey);
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error, url).toMatchObject({
        code: 'validation_failed',
        details: [{ field: 'path', in: 'params' }],
      });
    }
  });

  it('refuses NUL characters in path parameters and query strings with 400', async () => {
    const org = await h.createOrg();
    // PostgreSQL text cannot hold NUL: these used to be 500s there.
    for (const [url, field, where] of [
      ['/api/contacts/%00', 'id', 'params'],
      ['/api/tickets/a%00b/messages', 'id', 'params'],
      ['/api/contacts?email=a%00b%40example.com', 'email', 'query'],
      ['/api/events?type=ticket.created%00', 'type', 'query'],
    ] as const) {
      const res = await get(url, org.apiKey);
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error, url).toMatchObject({
        code: 'validation_failed',
        details: [{ field, in: where }],
      });
    }
  });

  it('reads a leap second in since/until instead of failing on NaN', async () => {
    const org = await h.createOrg();
    const hook = await createWebhook(h, org, { url: 'https://hooks.example.com/x' });
    await createTicket(h, org);
    const leap = '2016-12-31T23:59:60Z';
    for (const base of ['/api/events', `/api/webhooks/${hook.id}/deliveries`]) {
      const since = await get(`${base}?since=${leap}`, org.apiKey);
      expect(since.statusCode, since.body).toBe(200);
      expect(since.json().data.length, base).toBeGreaterThan(0);
      const until = await get(`${base}?until=${leap}`, org.apiKey);
      expect(until.statusCode, until.body).toBe(200);
      expect(until.json().data, base).toEqual([]);
    }
  });

  it('refuses webhook header values no HTTP client can send (beyond U+00FF)', async () => {
    const org = await h.createOrg();
    for (const value of ['5 €', '😀', 'line\u2028separator', 'Ā']) {
      const res = await h.request({
        method: 'POST',
        url: '/api/webhooks',
        key: org.apiKey,
        payload: {
          name: 'hook',
          url: 'https://hooks.example.com/x',
          events: ['ticket.created'],
          headers: { 'X-Price': value },
        },
      });
      expect(res.statusCode, value).toBe(400);
      expect(errorOf(res), value).toEqual({
        code: 'validation_failed',
        fields: ['headers.X-Price'],
      });
    }
    // Latin-1 (obs-text) is still fine: Node and undici send it as bytes.
    const ok = await createWebhook(h, org, {
      url: 'https://hooks.example.com/x',
      headers: { 'X-Name': 'Müller' },
    });
    const row = await h.db
      .selectFrom('webhooks')
      .select('headers')
      .where('id', '=', ok.id)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.headers)).toEqual({ 'X-Name': 'Müller' });
  });

  it('names an object key made of digits as a key, not an array index', async () => {
    const org = await h.createOrg();
    const res = await h.request({
      method: 'POST',
      url: '/api/webhooks',
      key: org.apiKey,
      payload: {
        name: 'hook',
        url: 'https://hooks.example.com/x',
        events: ['ticket.created'],
        headers: { '3': 'x'.repeat(1001) },
      },
    });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).fields).toEqual(['headers.3']);
    // Arrays keep their index form.
    const tags = await h.request({
      method: 'POST',
      url: '/api/tickets',
      key: org.apiKey,
      payload: { subject: 's', requester: { email: 'a@example.com' }, tags: ['ok', 7] },
    });
    expect(tags.statusCode).toBe(400);
    expect(errorOf(tags).fields).toEqual(['tags[1]']);
  });
});
