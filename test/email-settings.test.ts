/** `/api/organization` inbound settings, the inbound token, and rate limits of the public email endpoints. */
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { buildApp } from '../src/cli/app.js';
import { forEachDialect } from './support/harness.js';
import {
  counts,
  drain,
  emailRunner,
  emailTicket,
  inbound,
  messageRow,
  postInbound,
  postStatus,
  reply,
  setOrganization,
} from './support/email.js';
import { agentKey, problemFields } from './support/webhooks.js';

const TOKEN = 'inbound-token-0123456789abcdef';

forEachDialect('organization inbound settings', (h) => {
  it('shows and changes the settings; the token is stored hashed and never shown', async () => {
    const org = await h.createOrg('Acme');
    const get = () => h.request({ method: 'GET', url: '/api/organization', key: org.apiKey });
    expect((await get()).json()).toEqual({
      id: org.organizationId,
      name: 'Acme',
      inboundEmail: { unmatched: 'create', tokenSet: false },
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    h.clock.advance(1000);
    const changed = await setOrganization(h, org, {
      name: 'Acme Inc',
      inboundEmail: { unmatched: 'discard', token: TOKEN },
    });
    expect(changed).toMatchObject({
      name: 'Acme Inc',
      inboundEmail: { unmatched: 'discard', tokenSet: true },
      updatedAt: new Date(h.clock.now()).toISOString(),
    });
    expect(JSON.stringify(changed)).not.toContain(TOKEN);
    const row = await h.db
      .selectFrom('organizations')
      .selectAll()
      .where('id', '=', org.organizationId)
      .executeTakeFirstOrThrow();
    expect(row.inbound_token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(TOKEN);
    expect((await get()).json()).toEqual(changed);

    const removed = await setOrganization(h, org, { inboundEmail: { token: null } });
    expect(removed.inboundEmail).toEqual({ unmatched: 'discard', tokenSet: false });
  });

  it('rejects bad settings with 400 and non-admins with 403', async () => {
    const org = await h.createOrg();
    const patch = (payload: object, key = org.apiKey) =>
      h.request({ method: 'PATCH', url: '/api/organization', key, payload });
    const bad = await patch({ inboundEmail: { unmatched: 'ignore', token: 'short', other: 1 } });
    expect(bad.statusCode).toBe(400);
    expect(problemFields(bad).sort()).toEqual([
      'inboundEmail.other',
      'inboundEmail.token',
      'inboundEmail.unmatched',
    ]);
    const spaces = await patch({ inboundEmail: { token: 'has spaces in it 0123456789' } });
    expect(problemFields(spaces)).toEqual(['inboundEmail.token']);
    const agent = await agentKey(h, org);
    expect((await patch({ name: 'x' }, agent)).statusCode).toBe(403);
    const read = await h.request({ method: 'GET', url: '/api/organization', key: agent });
    expect(read.statusCode).toBe(403);
    expect((await h.request({ method: 'GET', url: '/api/organization' })).statusCode).toBe(401);
  });

  it('requires the inbound token once set, by header or query parameter', async () => {
    const org = await h.createOrg();
    await setOrganization(h, org, { inboundEmail: { token: TOKEN } });
    const before = await counts(h);
    for (const attempt of [{}, { token: 'wrong-token-0123456789abcdef' }, { query: '?token=x' }]) {
      const res = await postInbound(h, inbound(org), attempt);
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('unauthorized');
    }
    expect(await counts(h)).toEqual(before);
    expect((await postInbound(h, inbound(org), { token: TOKEN })).statusCode).toBe(200);
    const byQuery = await postInbound(h, inbound(org), {
      query: `?token=${encodeURIComponent(TOKEN)}`,
    });
    expect(byQuery.statusCode, byQuery.body).toBe(200);
    const unknownQuery = await postInbound(h, inbound(org), { query: '?tok=1' });
    expect(unknownQuery.statusCode).toBe(400);
  });

  /** An app of the suite's database whose log lines are kept, to look for secrets in. */
  const appWithLogLines = async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const app = await buildApp({
      config: h.config,
      database: h.database,
      clock: h.clock,
      logger,
      delivery: h.delivery,
      metrics: h.metrics,
    });
    return { app, lines };
  };

  it('keeps a token sent as a query parameter out of the request log', async () => {
    const org = await h.createOrg();
    await setOrganization(h, org, { inboundEmail: { token: TOKEN } });
    const { app, lines } = await appWithLogLines();
    try {
      for (const url of [
        '/api/rpc/tickets/email/inbound',
        '/api/rpc/tickets/email/delivery-status',
      ]) {
        const res = await app.inject({
          method: 'POST',
          url: `${url}?token=${TOKEN}`,
          payload: inbound(org),
        });
        expect(res.statusCode).toBeLessThan(500);
      }
    } finally {
      await app.close();
    }
    const log = lines.join('');
    expect(log).toContain('token=[redacted]');
    expect(log).not.toContain(TOKEN);
  });

  it('treats the token the same, and keeps it out of the log, in any spelling of its name', async () => {
    const org = await h.createOrg();
    await setOrganization(h, org, { inboundEmail: { token: TOKEN } });
    const WRONG = 'wrong-token-fedcba9876543210';
    const { app, lines } = await appWithLogLines();
    try {
      const post = (path: string, query: string, messageId: string) =>
        app.inject({
          method: 'POST',
          url: `/api/rpc/tickets/email/${path}?${query}`,
          payload: inbound(org, { messageId }),
        });
      const answers: string[] = [];
      const spellings = ['token', '%74oken', '%74%6F%6B%65%6E', 'tok%65n', 'to%6Ben'];
      for (const [i, name] of spellings.entries()) {
        const right = await post('inbound', `${name}=${TOKEN}`, `<right-${i}@example.com>`);
        const wrong = await post('inbound', `${name}=${WRONG}`, `<wrong-${i}@example.com>`);
        const status = await post('delivery-status', `${name}=${TOKEN}`, `<s-${i}@example.com>`);
        answers.push(`${right.statusCode} ${wrong.statusCode} ${status.statusCode}`);
        expect(right.json().ticketId, right.body).toEqual(expect.any(String));
      }
      // Every spelling answers as `?token=` does: accepted, or 401 for a wrong token.
      expect(answers).toEqual(spellings.map(() => '200 401 200'));
    } finally {
      await app.close();
    }
    const log = lines.join('');
    expect(log).toContain('incoming request');
    expect(log).toContain('%74oken=[redacted]');
    expect(log).not.toContain(TOKEN);
    expect(log).not.toContain(WRONG);
  });

  it('ignores delivery-status callbacks without the token of the message organization', async () => {
    const org = await h.createOrg();
    const ticket = await emailTicket(h, org, 'Token', 'token@example.com');
    const message = await reply(h, org, ticket.id);
    await drain(emailRunner(h));
    await h.db
      .updateTable('messages')
      .set({ delivery_status: 'sent', delivery_error: null })
      .where('id', '=', message.id)
      .execute();
    await setOrganization(h, org, { inboundEmail: { token: TOKEN } });
    const body = { providerMessageId: message.providerMessageId, event: 'delivered' };
    const quiet = await postStatus(h, body);
    expect(quiet.statusCode).toBe(200);
    expect(quiet.json()).toEqual({ success: true });
    expect((await messageRow(h, message.id)).delivery_status).toBe('sent');
    expect((await postStatus(h, body, { token: TOKEN })).statusCode).toBe(200);
    expect((await messageRow(h, message.id)).delivery_status).toBe('delivered');
  });
});

forEachDialect(
  'public email endpoint rate limits',
  (h) => {
    it('limits each source IP per minute with 429 in the error format', async () => {
      const org = await h.createOrg();
      const from = { remoteAddress: '203.0.113.7' };
      for (let i = 0; i < 3; i += 1) {
        expect((await postInbound(h, inbound(org), from)).statusCode).toBe(200);
      }
      const limited = await postInbound(h, inbound(org), from);
      expect(limited.statusCode).toBe(429);
      expect(limited.json().error.code).toBe('rate_limited');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // Garbage is counted too, and gets the same answer.
      expect((await postInbound(h, '{', from)).statusCode).toBe(429);
      const other = await h.createOrg();
      const elsewhere = await postInbound(h, inbound(other), { remoteAddress: '203.0.113.8' });
      expect(elsewhere.statusCode).toBe(200);

      const statusFrom = { remoteAddress: '203.0.113.9' };
      const callback = { providerMessageId: 'nobody@nowhere.test', event: 'delivered' };
      for (let i = 0; i < 3; i += 1) {
        expect((await postStatus(h, callback, statusFrom)).statusCode).toBe(200);
      }
      const statusLimited = await postStatus(h, callback, statusFrom);
      expect(statusLimited.statusCode).toBe(429);
      expect(statusLimited.json().error.code).toBe('rate_limited');
    });

    it('limits each organization per minute, whatever the source IP', async () => {
      const org = await h.createOrg();
      for (let i = 0; i < 3; i += 1) {
        const res = await postInbound(h, inbound(org), { remoteAddress: `198.51.100.${i + 1}` });
        expect(res.statusCode).toBe(200);
      }
      const before = await counts(h);
      const limited = await postInbound(h, inbound(org), { remoteAddress: '198.51.100.99' });
      expect(limited.statusCode).toBe(429);
      expect(await counts(h)).toEqual(before);
      const other = await h.createOrg();
      const res = await postInbound(h, inbound(other), { remoteAddress: '198.51.100.100' });
      expect(res.statusCode).toBe(200);
    });
  },
  { HOOKDESK_INBOUND_RATE_LIMIT: '3' },
);
