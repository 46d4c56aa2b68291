import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { ERRORS } from '../src/errors.js';
import { forEachDialect } from './support/harness.js';

it('documents every error code in docs/errors.md', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  for (const [code, { status }] of Object.entries(ERRORS)) {
    expect(doc, code).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${status}\\s*\\|`));
  }
});

forEachDialect('HTTP basics', (h) => {
  it('answers health and readiness', async () => {
    expect((await h.request({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await h.request({ method: 'GET', url: '/readyz' })).json()).toEqual({
      status: 'ready',
    });
  });

  it('serves an OpenAPI 3 document and the docs page', async () => {
    const doc = (await h.request({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of [
      '/api/users',
      '/api/api-keys',
      '/api/tickets',
      '/api/surveys',
      '/api/events',
      '/api/event-types',
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    const page = await h.request({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
  });

  it('answers unknown routes with not_found in the error format', async () => {
    const res = await h.request({ method: 'GET', url: '/api/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      error: { code: 'not_found', message: expect.any(String), details: [] },
    });
  });

  it('rejects malformed JSON, NUL characters and __proto__ keys without writing', async () => {
    const org = await h.createOrg();
    const before = await h.db.selectFrom('users').select('id').execute();
    for (const payload of [
      '{"email":',
      '{"email":"a\\u0000@x.io","name":"n"}',
      '{"__proto__":{"x":1},"email":"a@x.io","name":"n"}',
    ]) {
      const res = await h.request({
        method: 'POST',
        url: '/api/users',
        key: org.apiKey,
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect(res.statusCode, payload).toBe(400);
      expect(res.json().error.code).toBe('invalid_json');
    }
    expect(await h.db.selectFrom('users').select('id').execute()).toHaveLength(before.length);
  });

  it('lists every validation problem by field, without coercing types', async () => {
    const org = await h.createOrg();
    const res = await h.request({
      method: 'POST',
      url: '/api/users',
      key: org.apiKey,
      payload: { email: 42, name: '', role: 'owner', extra: true },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe('validation_failed');
    const fields = body.error.details.map((d: { field: string }) => d.field).sort();
    expect(fields).toEqual(expect.arrayContaining(['email', 'extra', 'name', 'role']));
  });

  it('validates query strings and cursors', async () => {
    const org = await h.createOrg();
    for (const url of [
      '/api/users?limit=0',
      '/api/users?limit=201',
      '/api/users?limit=abc',
      '/api/users?cursor=zzz',
      '/api/users?bogus=1',
    ]) {
      const res = await h.request({ method: 'GET', url, key: org.apiKey });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
      expect(res.json().error.details[0].in).toBe('query');
    }
  });

  it('answers 413 for bodies over the limit and 415 for other content types', async () => {
    const org = await h.createOrg();
    const big = await h.request({
      method: 'POST',
      url: '/api/users',
      key: org.apiKey,
      payload: { email: 'big@example.com', name: 'x'.repeat(h.config.bodyLimitBytes + 10) },
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('payload_too_large');
    const text = await h.request({
      method: 'POST',
      url: '/api/users',
      key: org.apiKey,
      headers: { 'content-type': 'text/plain' },
      payload: 'email=a@b.c',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('unsupported_media_type');
  });

  it('tells a client sending form data, text or no Content-Type to send JSON', async () => {
    const org = await h.createOrg();
    const headerSets: Record<string, string>[] = [
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'text/plain; charset=utf-8' },
      {},
    ];
    for (const headers of headerSets) {
      const res = await h.request({
        method: 'POST',
        url: '/api/users',
        key: org.apiKey,
        headers,
        payload: Buffer.from('email=a@example.com&name=A'),
      });
      const label = headers['content-type'] ?? 'no Content-Type';
      expect(res.statusCode, label).toBe(415);
      expect(res.json(), label).toEqual({
        error: {
          code: 'unsupported_media_type',
          message: 'Send the body as JSON with the header Content-Type: application/json.',
          details: [],
        },
      });
    }
  });

  it('pages through lists with nextCursor, newest first', async () => {
    const org = await h.createOrg();
    for (let i = 0; i < 5; i++) {
      await h.request({
        method: 'POST',
        url: '/api/users',
        key: org.apiKey,
        payload: { email: `p${i}@example.com`, name: `P${i}` },
      });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res = await h.request({
        method: 'GET',
        url: `/api/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        key: org.apiKey,
      });
      const body = res.json();
      expect(body.data.length).toBeLessThanOrEqual(2);
      seen.push(...body.data.map((u: { email: string }) => u.email));
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    expect(seen.slice(0, 5)).toEqual([
      'p4@example.com',
      'p3@example.com',
      'p2@example.com',
      'p1@example.com',
      'p0@example.com',
    ]);
    expect(seen[5]).toMatch(/^admin/);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
  });
});
