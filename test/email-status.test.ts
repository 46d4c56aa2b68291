/**
 * Delivery status: the forward-only order, the service provider adapters
 * call, and the public callback endpoint that answers 200 to anything it can
 * read. Also: malformed bodies on both public email endpoints never give a
 * 5xx and never write anything.
 */
import { describe, expect, it } from 'vitest';
import {
  DELIVERY_STATUSES,
  applyDeliveryStatus,
  canMoveTo,
  type MessageDeliveryStatus,
} from '../src/inbound/email/status.js';
import { forEachDialect } from './support/harness.js';
import {
  counts,
  emailTicket,
  messageRow,
  postInbound,
  postStatus,
  reply,
} from './support/email.js';

describe('delivery status order', () => {
  const rank: Record<string, number> = { queued: 0, sent: 1, delivered: 2, opened: 3 };
  const terminal = (s: string) => s === 'bounced' || s === 'failed';

  it('only ever moves forward; bounced and failed are final except for a later open', () => {
    for (const current of DELIVERY_STATUSES) {
      for (const next of DELIVERY_STATUSES) {
        const expected = terminal(current)
          ? next === 'opened'
          : terminal(next)
            ? current !== 'opened'
            : rank[next]! > rank[current]!;
        expect(canMoveTo(current, next), `${current} → ${next}`).toBe(expected);
      }
      expect(canMoveTo(null, current)).toBe(true);
    }
  });
});

forEachDialect('delivery status', (h) => {
  async function sentMessage() {
    const org = await h.createOrg();
    const ticket = await emailTicket(h, org, 'Status');
    const message = await reply(h, org, ticket.id);
    return { org, message };
  }
  const apply = (providerMessageId: string, status: MessageDeliveryStatus, extra = {}) =>
    h.db.transaction().execute((trx) =>
      applyDeliveryStatus(trx, h.clock, {
        providerMessageId,
        status,
        at: h.clock.now(),
        ...extra,
      }),
    );

  it('applies provider statuses by provider id, with or without brackets, within an organization', async () => {
    const { org, message } = await sentMessage();
    expect(await apply(message.providerMessageId, 'sent')).toBe(true);
    expect(await apply(message.emailMessageId, 'delivered')).toBe(true);
    expect(await apply(message.providerMessageId, 'delivered')).toBe(false);
    expect(await apply(message.providerMessageId, 'sent')).toBe(false);
    const other = await h.createOrg();
    expect(
      await apply(message.providerMessageId, 'opened', { organizationId: other.organizationId }),
    ).toBe(false);
    expect(
      await apply(message.providerMessageId, 'failed', {
        organizationId: org.organizationId,
        errorCode: 'timeout',
      }),
    ).toBe(true);
    expect(await messageRow(h, message.id)).toMatchObject({
      delivery_status: 'failed',
      delivery_error: 'timeout',
    });
    expect(await apply('unknown@nowhere.test', 'delivered')).toBe(false);
    expect(await apply('  ', 'delivered')).toBe(false);
  });

  it('never applies a status to inbound messages', async () => {
    const { org } = await sentMessage();
    const res = await postInbound(h, {
      organizationId: org.organizationId,
      from: 'pat@example.com',
      to: 'support@acme.test',
      messageId: 'inbound-status@mail.example.com',
    });
    expect(await apply('inbound-status@mail.example.com', 'delivered')).toBe(false);
    expect((await messageRow(h, res.json().messageId)).delivery_status).toBeNull();
  });

  it('answers 200 to malformed or unknown callbacks, logging them and changing nothing', async () => {
    const { message } = await sentMessage();
    const before = await messageRow(h, message.id);
    const bodies: unknown[] = [
      '{',
      '[]',
      'null',
      '"text"',
      '{"__proto__": {}}',
      JSON.stringify({ event: 'delivered' }),
      JSON.stringify({ providerMessageId: message.providerMessageId }),
      JSON.stringify({ providerMessageId: message.providerMessageId, event: 'exploded' }),
      JSON.stringify({ providerMessageId: message.providerMessageId, event: 'queued' }),
      JSON.stringify({ providerMessageId: 42, event: 'delivered' }),
      JSON.stringify({
        providerMessageId: message.providerMessageId,
        event: 'delivered',
        timestamp: 'yesterday',
      }),
      JSON.stringify({
        providerMessageId: message.providerMessageId,
        event: 'bounced',
        errorCode: { nested: true },
      }),
      JSON.stringify({ providerMessageId: 'unknown@nowhere.test', event: 'bounced' }),
    ];
    for (const payload of bodies) {
      const res = await postStatus(h, payload);
      expect(res.statusCode, String(payload)).toBe(200);
      expect(res.json()).toEqual({ success: true });
    }
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const res = await postStatus(h, 'providerMessageId=x&event=delivered', {
        headers: { 'content-type': type },
      });
      expect(res.statusCode).toBe(200);
    }
    const bare = await h.request({ method: 'POST', url: '/api/rpc/tickets/email/delivery-status' });
    expect(bare.statusCode).toBe(200);
    expect(await messageRow(h, message.id)).toEqual(before);
  });

  it('never answers 5xx to malformed inbound email, and writes nothing', async () => {
    const org = await h.createOrg();
    const before = await counts(h);
    const valid = { organizationId: org.organizationId, from: 'a@b.test', to: 'c@d.test' };
    const payloads: unknown[] = [
      '{',
      '',
      '[]',
      'null',
      '"x"',
      '{"__proto__": {"polluted": true}}',
      JSON.stringify({ ...valid, text: 'nul \u0000 byte' }),
      JSON.stringify({ ...valid, attachments: 'none' }),
      JSON.stringify({ ...valid, attachments: [null] }),
      JSON.stringify({ ...valid, references: ['<a@b>'] }),
      JSON.stringify({ ...valid, from: '<>' }),
      JSON.stringify({ ...valid, from: 'x'.repeat(2000) }),
      JSON.stringify({ ...valid, organizationId: null }),
      JSON.stringify({ ...valid, subject: { deep: [1, 2, 3] } }),
      '['.repeat(5000) + ']'.repeat(5000),
    ];
    for (const payload of payloads) {
      const res = await postInbound(h, payload);
      expect(res.statusCode, String(payload).slice(0, 60)).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, String(payload).slice(0, 60)).toBeLessThan(500);
      expect(res.json().error.code).toMatch(/^(validation_failed|invalid_json)$/);
    }
    const text = await postInbound(h, 'hello', { headers: { 'content-type': 'text/plain' } });
    expect(text.statusCode).toBe(415);
    const huge = await postInbound(h, { ...valid, text: 'x'.repeat(h.config.bodyLimitBytes) });
    expect(huge.statusCode).toBe(413);
    expect(await counts(h)).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
