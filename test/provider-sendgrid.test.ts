import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
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

/** A P-256 key pair made here: SendGrid's algorithm, our own keys. */
function keyPair(): { publicKey: string; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    privateKey,
  };
}

const KEYS = keyPair();
const OTHER_KEYS = keyPair();

function signed(h: Harness, body: string, opts: { key?: KeyObject; ageMs?: number } = {}) {
  const timestamp = String(Math.floor((h.clock.now() - (opts.ageMs ?? 0)) / 1000));
  const signature = sign(
    'sha256',
    Buffer.concat([Buffer.from(timestamp), Buffer.from(body)]),
    opts.key ?? KEYS.privateKey,
  ).toString('base64');
  return {
    'x-twilio-email-event-webhook-signature': signature,
    'x-twilio-email-event-webhook-timestamp': timestamp,
  };
}

function postEvents(h: Harness, url: string, body: string, headers: Record<string, string>) {
  return h.request({
    method: 'POST',
    url: pathOf(url),
    headers: { 'content-type': 'application/json', ...headers },
    payload: body,
  });
}

/** SendGrid's documented Event Webhook example batch (one event of each type). */
function documentedBatch(sgMessageId: string) {
  const base = {
    email: 'example@test.com',
    timestamp: 1513299569,
    'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
    category: 'cat facts',
    sg_message_id: `${sgMessageId}.filter0001.16648.5515E0B88.000000000000000000000`,
  };
  return [
    { ...base, event: 'processed', sg_event_id: 'rbtnWrG1DVDGGGFHFyun0A==' },
    {
      ...base,
      event: 'deferred',
      sg_event_id: 'ZAQo7XyGS7-7rnsX9jW8UA==',
      response: '400 try again later',
      attempt: '5',
    },
    { ...base, event: 'delivered', sg_event_id: 'KnIgbwNwADlShsoabQ4pqA==', response: '250 OK' },
    {
      ...base,
      event: 'open',
      sg_event_id: 'FOTFFO0ecsBE-zxFXfs6WA==',
      useragent: 'Mozilla/4.0',
      ip: '255.255.255.255',
    },
    {
      ...base,
      event: 'click',
      sg_event_id: 'kCAi1KttyQdEKHhdC-nuEA==',
      url: 'http://www.sendgrid.com/',
    },
    {
      ...base,
      event: 'bounce',
      sg_event_id: '3NPOePGOTkeM_U3fgWApfg==',
      reason: '500 unknown recipient',
      status: '5.0.0',
      type: 'bounce',
    },
    {
      ...base,
      event: 'dropped',
      sg_event_id: 'zmzJhfJgAfUSOW80yEbPyw==',
      reason: 'Bounced Address',
      status: '5.0.0',
    },
    { ...base, event: 'spamreport', sg_event_id: 'EhK6BNO4oqHa-ipWw-F41A==' },
    { ...base, event: 'unsubscribe', sg_event_id: 'oxy9OLwMTAy5EsuZn1qhIg==' },
    {
      ...base,
      event: 'group_unsubscribe',
      sg_event_id: 'S4wr46YHS0qr3BKhawTQjQ==',
      asm_group_id: 10,
    },
    {
      ...base,
      event: 'group_resubscribe',
      sg_event_id: 'jHkK0hcFiXJ3x6cHY9BsSw==',
      asm_group_id: 10,
    },
  ];
}

async function sendgridChannel(h: Harness, org: Org, token?: string) {
  return createChannel(h, org, {
    type: 'sendgrid',
    credentials: {
      eventWebhookPublicKey: KEYS.publicKey,
      ...(token ? { inboundParseToken: token } : {}),
    },
  });
}

forEachDialect(
  'SendGrid provider',
  (h) => {
    it('applies a signed event batch once, even when posted three times', async () => {
      const org = await h.createOrg();
      const channel = await sendgridChannel(h, org);
      const message = await outboundMessage(h, org, '14c5d75ce93');
      const body = JSON.stringify(documentedBatch('14c5d75ce93').slice(0, 3));
      for (let i = 0; i < 3; i += 1) {
        const res = await postEvents(h, channel.callbackUrls.events!, body, signed(h, body));
        expect(res.statusCode, res.body).toBe(200);
      }
      expect((await deliveryStatusOf(h, message)).delivery_status).toBe('delivered');
      expect((await counts(h, org.organizationId)).providerEvents).toBe(3);
    });

    it('parses the documented batch: open after bounce is kept, status never goes back', async () => {
      const org = await h.createOrg();
      const channel = await sendgridChannel(h, org);
      const message = await outboundMessage(h, org, '14c5d75ce93');
      const body = JSON.stringify(documentedBatch('14c5d75ce93'));
      const res = await postEvents(h, channel.callbackUrls.events!, body, signed(h, body));
      expect(res.statusCode, res.body).toBe(200);
      // open and click come before the bounce in the batch; the bounce cannot undo an open.
      expect((await deliveryStatusOf(h, message)).delivery_status).toBe('opened');
      expect((await counts(h, org.organizationId)).providerEvents).toBe(11);
    });

    it('maps hard bounces, blocks and drops, and matches smtp-id for SMTP-sent mail', async () => {
      const org = await h.createOrg();
      const channel = await sendgridChannel(h, org);
      const hard = await outboundMessage(h, org, 'aaa111', 'sent');
      const blocked = await outboundMessage(h, org, 'bbb222', 'sent');
      const smtp = await outboundMessage(h, org, 'c3f0@hooks.example.test', 'sent');
      const event = (id: string, extra: object) => ({
        email: 'x@example.com',
        timestamp: 1513299569,
        sg_event_id: `ev-${id}-${JSON.stringify(extra).length}`,
        sg_message_id: `${id}.filter0001.x`,
        ...extra,
      });
      const body = JSON.stringify([
        event('aaa111', {
          event: 'bounce',
          type: 'bounce',
          status: '5.1.1',
          reason: 'no such user',
        }),
        event('bbb222', { event: 'bounce', type: 'blocked', status: '4.0.0', reason: 'blocked' }),
        { ...event('zzz999', { event: 'delivered' }), 'smtp-id': '<c3f0@hooks.example.test>' },
      ]);
      expect(
        (await postEvents(h, channel.callbackUrls.events!, body, signed(h, body))).statusCode,
      ).toBe(200);
      expect(await deliveryStatusOf(h, hard)).toEqual({
        delivery_status: 'bounced',
        delivery_error: '5.1.1: no such user',
      });
      expect((await deliveryStatusOf(h, blocked)).delivery_status).toBe('failed');
      expect((await deliveryStatusOf(h, smtp)).delivery_status).toBe('delivered');
    });

    it('rejects missing, wrong-key, tampered and stale signatures; stores nothing', async () => {
      const org = await h.createOrg();
      const channel = await sendgridChannel(h, org);
      const message = await outboundMessage(h, org, '14c5d75ce93');
      const url = channel.callbackUrls.events!;
      const body = JSON.stringify(documentedBatch('14c5d75ce93'));
      expect((await postEvents(h, url, body, {})).statusCode).toBe(401);
      const other = await postEvents(h, url, body, signed(h, body, { key: OTHER_KEYS.privateKey }));
      expect(other.statusCode).toBe(403);
      const tampered = await postEvents(h, url, body.replace('bounce', 'bounc3'), signed(h, body));
      expect(tampered.statusCode).toBe(403);
      const stale = await postEvents(h, url, body, signed(h, body, { ageMs: 11 * 60_000 }));
      expect(stale.statusCode).toBe(403);
      const future = await postEvents(h, url, body, signed(h, body, { ageMs: -11 * 60_000 }));
      expect(future.statusCode).toBe(403);
      const garbage = await postEvents(h, url, body, {
        'x-twilio-email-event-webhook-signature': 'not-der',
        'x-twilio-email-event-webhook-timestamp': 'yesterday',
      });
      expect(garbage.statusCode).toBe(403);
      expect((await counts(h, org.organizationId)).providerEvents).toBe(0);
      expect((await deliveryStatusOf(h, message)).delivery_status).toBe('queued');
    });

    it('accepts an Inbound Parse post once and records its threading headers and attachments', async () => {
      const org = await h.createOrg();
      const channel = await sendgridChannel(h, org);
      const form = multipart(
        {
          headers:
            'Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn Wed, 27 Jul 2016 20:53:06 +0000 (UTC)\n' +
            'MIME-Version: 1.0\nFrom: Example User <test@example.com>\nDate: Wed, 27 Jul 2016 14:53:05 -0600\n' +
            'Message-ID: <CAN_P_JMvV7ZpAQhOnDienypLrJmuhN=LQWweu4yScw4jQyXY2w@mail.gmail.com>\n' +
            'Subject: Test Subject\nTo: inbound@inbound.example.com\n' +
            'Content-Type: multipart/alternative; boundary=001a113df448cad2d00538c2e2b2',
          dkim: '{@sendgrid.com : pass}',
          'content-ids': '{"ii_1562e2169c132d83":"attachment1"}',
          to: 'inbound@inbound.example.com',
          html: '<html><body><strong>Hello SendGrid!</strong></body></html>',
          from: 'Example User <test@example.com>',
          text: 'Hello SendGrid!',
          sender_ip: '209.85.223.69',
          spam_report: 'Spam detection software...',
          envelope: '{"to":["inbound@inbound.example.com"],"from":"test@example.com"}',
          attachments: '1',
          subject: 'Test Subject',
          spam_score: '0.012',
          'attachment-info':
            '{"attachment1":{"filename":"image.png","name":"image.png","type":"image/png","content-id":"ii_1562e2169c132d83"}}',
          charsets: '{"to":"UTF-8","html":"UTF-8","subject":"UTF-8","from":"UTF-8","text":"UTF-8"}',
          SPF: 'pass',
        },
        [{ field: 'attachment1', filename: 'image.png', type: 'image/png', content: 'PNGDATA' }],
      );
      for (let i = 0; i < 3; i += 1) {
        const res = await h.request({
          method: 'POST',
          url: pathOf(channel.callbackUrls.inbound!),
          ...form,
        });
        expect(res.statusCode, res.body).toBe(200);
      }
      const stored = await inboundEmail(
        h,
        org.organizationId,
        '<CAN_P_JMvV7ZpAQhOnDienypLrJmuhN=LQWweu4yScw4jQyXY2w@mail.gmail.com>',
      );
      expect(stored).toMatchObject({
        channel: 'email',
        subject: 'Test Subject',
        email: 'test@example.com',
        name: 'Example User',
        body: 'Hello SendGrid!',
      });
      expect(JSON.parse(stored!.attachments)).toEqual([
        { filename: 'image.png', contentType: 'image/png', size: 7, url: null },
      ]);
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 1, tickets: 1 });
    });

    it('reads raw MIME mode (`email` field) with mailparser', async () => {
      const org = await h.createOrg();
      const channel = await sendgridChannel(h, org);
      const mime = [
        'From: =?UTF-8?Q?Jos=C3=A9_P=C3=A9rez?= <jose@example.com>',
        'To: support@inbound.example.com',
        'Subject: =?UTF-8?B?w4lsw6h2ZQ==?=',
        'Message-ID: <raw-1@example.com>',
        'In-Reply-To: <hd-1@hooks.example.test>',
        'References: <hd-0@hooks.example.test> <hd-1@hooks.example.test>',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Raw body here.',
        '',
      ].join('\r\n');
      const form = multipart({
        email: mime,
        to: 'support@inbound.example.com',
        envelope: '{"to":["support@inbound.example.com"],"from":"jose@example.com"}',
      });
      const res = await h.request({
        method: 'POST',
        url: pathOf(channel.callbackUrls.inbound!),
        ...form,
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(await inboundEmail(h, org.organizationId, '<raw-1@example.com>')).toMatchObject({
        subject: 'Élève',
        name: 'José Pérez',
        email: 'jose@example.com',
        body: 'Raw body here.',
      });
    });

    it('requires the Inbound Parse token when the channel has one', async () => {
      const org = await h.createOrg();
      const channel = await sendgridChannel(h, org, 'parse-token-0123456789');
      expect(channel.callbackUrls.inbound).toContain('?token=parse-token-0123456789');
      expect(channel.config).toMatchObject({ hasInboundParseToken: true });
      const form = multipart({
        from: 'a@example.com',
        to: 'b@example.com',
        text: 'hi',
        headers: 'Subject: x',
      });
      const path = pathOf(channel.callbackUrls.inbound!).split('?')[0]!;
      expect((await h.request({ method: 'POST', url: path, ...form })).statusCode).toBe(401);
      expect(
        (await h.request({ method: 'POST', url: `${path}?token=wrong`, ...form })).statusCode,
      ).toBe(403);
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 0, providerEvents: 0 });
      const ok = await h.request({
        method: 'POST',
        url: pathOf(channel.callbackUrls.inbound!),
        ...form,
      });
      expect(ok.statusCode, ok.body).toBe(200);
      // Later reads do not show the token.
      const read = await h.request({
        method: 'GET',
        url: `/api/channels/${channel.id}`,
        key: org.apiKey,
      });
      expect(read.json().callbackUrls.inbound).not.toContain('token');
    });

    it('never answers 5xx or stores anything for malformed bodies', async () => {
      const org = await h.createOrg();
      const channel = await sendgridChannel(h, org);
      const events = channel.callbackUrls.events!;
      for (const [body, status] of [
        ['{"not":"an array"}', 400],
        ['[not json', 400],
        ['', 400],
        ['[1, "x", null, {"event": 5}]', 200],
      ] as const) {
        const res = await postEvents(h, events, body, signed(h, body));
        expect(res.statusCode, body).toBe(status);
      }
      const inbound = pathOf(channel.callbackUrls.inbound!);
      const cases = [
        {
          headers: { 'content-type': 'multipart/form-data; boundary=abc' },
          payload: '--abc\r\nbroken',
        },
        { headers: { 'content-type': 'multipart/form-data' }, payload: 'no boundary' },
        { headers: { 'content-type': 'application/json' }, payload: '{}' },
        multipart({ text: 'no headers and no sender' }),
        multipart({ headers: 'From: not an address', text: 'x' }),
        multipart({ email: 'garbage without headers' }),
      ];
      for (const c of cases) {
        const res = await h.request({ method: 'POST', url: inbound, ...c });
        expect(res.statusCode, c.payload).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, c.payload).toBeLessThan(500);
      }
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 0, tickets: 0 });
    });
  },
  CHANNEL_ENV,
);
