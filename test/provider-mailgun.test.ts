import { createHmac, randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { forEachDialect, type Harness, type Org } from './support/harness.js';
import {
  CHANNEL_ENV,
  counts,
  createChannel,
  deliveryStatusOf,
  inboundEmail,
  multipart,
  outboundMessage,
  pathOf,
} from './support/channels.js';

const SIGNING_KEY = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';

/** Mailgun's documented signing: hex(HMAC-SHA256(signing key, timestamp + token)). */
function signature(h: Harness, opts: { key?: string; ageMs?: number; token?: string } = {}) {
  const timestamp = String(Math.floor((h.clock.now() - (opts.ageMs ?? 0)) / 1000));
  const token = opts.token ?? randomBytes(25).toString('hex');
  const sig = createHmac('sha256', opts.key ?? SIGNING_KEY)
    .update(timestamp + token)
    .digest('hex');
  return { timestamp, token, signature: sig };
}

/** Mailgun's documented "parsed message" post of a route's forward(). */
function inboundFields(sig: Record<string, string>): Record<string, string> {
  return {
    recipient: 'bob@sandbox.mailgun.org',
    sender: 'alice@example.com',
    from: 'Alice Example <alice@example.com>',
    subject: 'Re: Sample POST request',
    'body-plain': 'Hi Bob, sending a message via a route.\n\nOn Apr 26, Bob wrote:\n> Hello',
    'stripped-text': 'Hi Bob, sending a message via a route.',
    'stripped-signature': '',
    'body-html': '<html><body>Hi Bob</body></html>',
    'attachment-count': '0',
    'message-headers': JSON.stringify([
      [
        'Received',
        'by luna.mailgun.net with SMTP mgrt 8734663311733; Fri, 03 May 2013 18:26:27 +0000',
      ],
      ['Message-Id', '<517ACC75.5010709@mailgun.net>'],
      ['Date', 'Fri, 26 Apr 2013 11:50:29 -0700'],
      ['From', 'Alice Example <alice@example.com>'],
      ['Subject', 'Re: Sample POST request'],
      ['To', 'Bob <bob@sandbox.mailgun.org>'],
      ['In-Reply-To', '<517AC78B.5060404@sandbox.mailgun.org>'],
      ['References', '<517AC78B.5060404@sandbox.mailgun.org>'],
    ]),
    ...sig,
  };
}

/** Mailgun's documented `delivered` event webhook, re-signed with the test key. */
function deliveredEvent(sig: Record<string, string>, messageId: string, extra: object = {}) {
  return {
    signature: sig,
    'event-data': {
      event: 'delivered',
      timestamp: 1521472262.908181,
      id: `CPgfbmQMTCKtHW6uIWtuVe-${messageId}-${JSON.stringify(extra).length}`,
      'log-level': 'info',
      envelope: {
        transport: 'smtp',
        sender: 'bob@sandbox.mailgun.org',
        'sending-ip': '209.61.154.250',
        targets: 'alice@example.com',
      },
      flags: {
        'is-routed': false,
        'is-authenticated': true,
        'is-system-test': false,
        'is-test-mode': false,
      },
      'delivery-status': {
        tls: true,
        'mx-host': 'smtp-in.example.com',
        code: 250,
        description: '',
        'attempt-no': 1,
        message: 'OK',
        'certificate-verified': true,
      },
      message: {
        headers: {
          to: 'Alice <alice@example.com>',
          'message-id': messageId,
          from: 'Bob <bob@sandbox.mailgun.org>',
          subject: 'Test delivered webhook',
        },
        attachments: [],
        size: 111,
      },
      recipient: 'alice@example.com',
      'recipient-domain': 'example.com',
      tags: ['my_tag_1'],
      'user-variables': { my_var_1: 'Mailgun Variable #1' },
      ...extra,
    },
  };
}

async function mailgunUrls(h: Harness, org: Org) {
  const channel = await createChannel(h, org, {
    type: 'mailgun',
    credentials: { signingKey: SIGNING_KEY },
  });
  return {
    inbound: pathOf(channel.callbackUrls.inbound!),
    events: pathOf(channel.callbackUrls.events!),
  };
}

function postForm(h: Harness, url: string, fields: Record<string, string>) {
  return h.request({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  });
}

function postJson(h: Harness, url: string, body: unknown) {
  return h.request({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
}

forEachDialect(
  'Mailgun provider',
  (h) => {
    it('accepts a signed inbound route post once, even when posted three times', async () => {
      const org = await h.createOrg();
      const { inbound } = await mailgunUrls(h, org);
      const fields = inboundFields(signature(h));
      for (let i = 0; i < 3; i += 1) {
        const res = await postForm(h, inbound, fields);
        expect(res.statusCode, res.body).toBe(200);
      }
      expect(
        await inboundEmail(h, org.organizationId, '<517ACC75.5010709@mailgun.net>'),
      ).toMatchObject({
        subject: 'Re: Sample POST request',
        email: 'alice@example.com',
        name: 'Alice Example',
        body_html: '<html><body>Hi Bob</body></html>',
      });
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 1, tickets: 1 });
    });

    it('takes multipart posts with attachment files', async () => {
      const org = await h.createOrg();
      const { inbound } = await mailgunUrls(h, org);
      const fields = { ...inboundFields(signature(h)), 'attachment-count': '1' };
      const form = multipart(fields, [
        {
          field: 'attachment-1',
          filename: 'report.pdf',
          type: 'application/pdf',
          content: '%PDF-1.4 x',
        },
      ]);
      const res = await h.request({ method: 'POST', url: inbound, ...form });
      expect(res.statusCode, res.body).toBe(200);
      const stored = await inboundEmail(h, org.organizationId, '<517ACC75.5010709@mailgun.net>');
      expect(JSON.parse(stored!.attachments)).toEqual([
        { filename: 'report.pdf', contentType: 'application/pdf', size: 10, url: null },
      ]);
    });

    it('rejects missing, wrong, stale and replayed-with-other-data signatures; stores nothing', async () => {
      const org = await h.createOrg();
      const { inbound, events } = await mailgunUrls(h, org);
      const { signature: _s, ...unsigned } = inboundFields(signature(h));
      expect((await postForm(h, inbound, unsigned)).statusCode).toBe(401);
      expect(
        (await postForm(h, inbound, inboundFields(signature(h, { key: 'key-other' })))).statusCode,
      ).toBe(403);
      expect(
        (await postForm(h, inbound, inboundFields(signature(h, { ageMs: 11 * 60_000 }))))
          .statusCode,
      ).toBe(403);
      const sig = signature(h);
      expect(
        (await postForm(h, inbound, inboundFields({ ...sig, token: `${sig.token}x` }))).statusCode,
      ).toBe(403);
      const message = await outboundMessage(
        h,
        org,
        '20130503182626.18666.16540@sandbox.mailgun.org',
      );
      expect((await postJson(h, events, { 'event-data': {} })).statusCode).toBe(401);
      const forged = deliveredEvent(
        signature(h, { key: 'key-other' }),
        '20130503182626.18666.16540@sandbox.mailgun.org',
      );
      expect((await postJson(h, events, forged)).statusCode).toBe(403);
      const stale = deliveredEvent(
        signature(h, { ageMs: 20 * 60_000 }),
        '20130503182626.18666.16540@sandbox.mailgun.org',
      );
      expect((await postJson(h, events, stale)).statusCode).toBe(403);
      expect(await counts(h, org.organizationId)).toMatchObject({ providerEvents: 0 });
      expect((await counts(h, org.organizationId)).messages).toBe(1);
      expect((await deliveryStatusOf(h, message)).delivery_status).toBe('queued');
    });

    it('applies event webhooks once; a replayed token changes nothing; never backwards', async () => {
      const org = await h.createOrg();
      const { events } = await mailgunUrls(h, org);
      const id = '20130503182626.18666.16540@sandbox.mailgun.org';
      const message = await outboundMessage(h, org, id);
      const delivered = deliveredEvent(signature(h), id);
      for (let i = 0; i < 3; i += 1) {
        const res = await postJson(h, events, delivered);
        expect(res.statusCode, res.body).toBe(200);
      }
      expect((await deliveryStatusOf(h, message)).delivery_status).toBe('delivered');
      // Same token, other content: a replay of the signature; the token is spent.
      const replay = { ...deliveredEvent(delivered.signature, id, { event: 'opened' }) };
      expect((await postJson(h, events, replay)).statusCode).toBe(200);
      expect((await deliveryStatusOf(h, message)).delivery_status).toBe('delivered');
      const accepted = deliveredEvent(signature(h), id, { event: 'accepted' });
      expect((await postJson(h, events, accepted)).statusCode).toBe(200);
      expect((await deliveryStatusOf(h, message)).delivery_status).toBe('delivered');
      // Two accepted requests, each remembered by its token and its event id.
      expect((await counts(h, org.organizationId)).providerEvents).toBe(4);
    });

    it('maps permanent failures: bounced address vs other failures; temporary ones wait', async () => {
      const org = await h.createOrg();
      const { events } = await mailgunUrls(h, org);
      const bounced = await outboundMessage(h, org, 'b1@sandbox.mailgun.org', 'sent');
      const failed = await outboundMessage(h, org, 'f1@sandbox.mailgun.org', 'sent');
      const temporary = await outboundMessage(h, org, 't1@sandbox.mailgun.org', 'sent');
      const failure = (id: string, severity: string, reason: string) =>
        deliveredEvent(signature(h), id, {
          event: 'failed',
          severity,
          reason,
          'delivery-status': {
            code: 605,
            description: 'Not delivering to previously bounced address',
            message: '',
          },
        });
      for (const body of [
        failure('b1@sandbox.mailgun.org', 'permanent', 'suppress-bounce'),
        failure('f1@sandbox.mailgun.org', 'permanent', 'generic'),
        failure('t1@sandbox.mailgun.org', 'temporary', 'generic'),
      ]) {
        expect((await postJson(h, events, body)).statusCode).toBe(200);
      }
      expect(await deliveryStatusOf(h, bounced)).toEqual({
        delivery_status: 'bounced',
        delivery_error: '605: Not delivering to previously bounced address',
      });
      expect((await deliveryStatusOf(h, failed)).delivery_status).toBe('failed');
      expect((await deliveryStatusOf(h, temporary)).delivery_status).toBe('sent');
    });

    it('never answers 5xx or stores anything for malformed bodies', async () => {
      const org = await h.createOrg();
      const { inbound, events } = await mailgunUrls(h, org);
      const good = signature(h);
      const inboundCases = [
        { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '%%%' },
        { headers: { 'content-type': 'application/json' }, payload: '{}' },
        { headers: { 'content-type': 'multipart/form-data; boundary=q' }, payload: '--q\r\nbad' },
        {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams({ ...good, 'message-headers': '{oops' }).toString(),
        },
        {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams({ ...signature(h), from: 'x\u0000y' }).toString(),
        },
      ];
      for (const c of inboundCases) {
        const res = await h.request({ method: 'POST', url: inbound, ...c });
        expect(res.statusCode, c.payload).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, c.payload).toBeLessThan(500);
      }
      for (const body of [
        '{bad',
        '[]',
        '"x"',
        JSON.stringify({ signature: 'x' }),
        JSON.stringify({ signature: { timestamp: 1, token: 2, signature: 3 } }),
      ]) {
        const res = await h.request({
          method: 'POST',
          url: events,
          headers: { 'content-type': 'application/json' },
          payload: body,
        });
        expect(res.statusCode, body).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, body).toBeLessThan(500);
      }
      const noEventData = await postJson(h, events, { signature: signature(h) });
      expect(noEventData.statusCode).toBe(200);
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 0, tickets: 0 });
    });
  },
  CHANNEL_ENV,
);
