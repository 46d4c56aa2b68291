import { expect, it } from 'vitest';
import { forEachDialect, type Harness, type Org } from './support/harness.js';
import {
  CHANNEL_ENV,
  counts,
  createChannel,
  deliveryStatusOf,
  inboundEmail,
  outboundMessage,
} from './support/channels.js';

interface PostmarkUrls {
  inbound: { path: string; auth: string };
  events: { path: string; auth: string };
}

/** The basic-auth pair travels in the returned URLs' userinfo, as Postmark is configured with it. */
function split(url: string) {
  const u = new URL(url);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  return { path: u.pathname, auth };
}

async function postmarkChannel(h: Harness, org: Org): Promise<PostmarkUrls & { id: string }> {
  const channel = await createChannel(h, org, { type: 'postmark' });
  return {
    id: channel.id,
    inbound: split(channel.callbackUrls.inbound!),
    events: split(channel.callbackUrls.events!),
  };
}

function post(h: Harness, target: { path: string; auth: string }, body: unknown, auth?: string) {
  const authorization = auth ?? target.auth;
  return h.request({
    method: 'POST',
    url: target.path,
    headers: {
      'content-type': 'application/json',
      ...(authorization === '' ? {} : { authorization }),
    },
    // The documented bounce ID (4323372036854775807) is past 2^53: sent as the literal, as Postmark does.
    payload: (typeof body === 'string' ? body : JSON.stringify(body)).replace(
      '"BOUNCE_ID"',
      '4323372036854775807',
    ),
  });
}

/** Postmark's documented inbound webhook example. */
const INBOUND = {
  FromName: 'Postmarkapp Support',
  MessageStream: 'inbound',
  From: 'support@postmarkapp.com',
  FromFull: { Email: 'support@postmarkapp.com', Name: 'Postmarkapp Support', MailboxHash: '' },
  To: '"Firstname Lastname" <yourhash+SampleHash@inbound.postmarkapp.com>',
  ToFull: [
    {
      Email: 'yourhash+SampleHash@inbound.postmarkapp.com',
      Name: 'Firstname Lastname',
      MailboxHash: 'SampleHash',
    },
  ],
  Cc: '"First Cc" <firstcc@postmarkapp.com>, secondCc@postmarkapp.com>',
  CcFull: [{ Email: 'firstcc@postmarkapp.com', Name: 'First Cc', MailboxHash: '' }],
  Bcc: '"First Bcc" <firstbcc@postmarkapp.com>',
  BccFull: [{ Email: 'firstbcc@postmarkapp.com', Name: 'First Bcc', MailboxHash: '' }],
  OriginalRecipient: 'yourhash+SampleHash@inbound.postmarkapp.com',
  Subject: 'Test subject',
  MessageID: '73e6d360-66eb-11e1-8e72-a8904824019b',
  ReplyTo: 'replyto@postmarkapp.com',
  MailboxHash: 'SampleHash',
  Date: 'Fri, 1 Aug 2014 16:45:32 -04:00',
  TextBody: 'This is a test text body.',
  HtmlBody: '<html><body><p>This is a test html body.</p></body></html>',
  StrippedTextReply: 'This is the reply text',
  Tag: 'TestTag',
  Headers: [
    { Name: 'X-Header-Test', Value: '' },
    { Name: 'X-Spam-Status', Value: 'No' },
    { Name: 'X-Spam-Score', Value: '-0.1' },
    { Name: 'X-Spam-Tests', Value: 'DKIM_SIGNED,DKIM_VALID,DKIM_VALID_AU,SPF_PASS' },
    {
      Name: 'Message-ID',
      Value: '<CAE3rzt0xkfJ7aJQ2Y2ih7HktyHVTU3HBpHFXi=K4_w-eKnZuqw@mail.gmail.com>',
    },
    { Name: 'In-Reply-To', Value: '<original@hooks.example.test>' },
  ],
  Attachments: [
    {
      Name: 'test.txt',
      Content: 'VGhpcyBpcyBhdHRhY2htZW50IGNvbnRlbnRzLCBiYXNlLTY0IGVuY29kZWQu',
      ContentType: 'text/plain',
      ContentLength: 45,
    },
  ],
};

/** Postmark's documented Delivery, Bounce and Open webhook examples. */
const MESSAGE_ID = '883953f4-6105-42a2-a16a-77a8eac79483';
const DELIVERY = {
  MessageID: MESSAGE_ID,
  Recipient: 'john@example.com',
  DeliveredAt: '2019-11-05T16:33:54.9070259Z',
  Details: 'Test delivery webhook details',
  Tag: 'welcome-email',
  ServerID: 23,
  Metadata: { a_key: 'a_value', b_key: 'b_value' },
  RecordType: 'Delivery',
  MessageStream: 'outbound',
};
const BOUNCE = {
  RecordType: 'Bounce',
  MessageStream: 'outbound',
  ID: 'BOUNCE_ID',
  Type: 'HardBounce',
  TypeCode: 1,
  Name: 'Hard bounce',
  Tag: 'Invitation',
  MessageID: MESSAGE_ID,
  ServerID: 23,
  Description:
    'The server was unable to deliver your message (ex: unknown user, mailbox not found).',
  Details: 'Test bounce details',
  Email: 'john@example.com',
  From: 'sender@example.com',
  BouncedAt: '2019-11-05T16:33:54.9070259Z',
  DumpAvailable: true,
  Inactive: true,
  CanActivate: true,
  Subject: 'Test subject',
};
const OPEN = {
  RecordType: 'Open',
  MessageStream: 'outbound',
  FirstOpen: true,
  Client: { Name: 'Chrome 35.0.1916.153', Company: 'Google', Family: 'Chrome' },
  OS: { Name: 'OS X 10.7 Lion', Company: 'Apple Computer, Inc.', Family: 'OS X 10' },
  Platform: 'WebMail',
  UserAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5)',
  ReadSeconds: 5,
  Geo: { CountryISOCode: 'RS', Country: 'Serbia', City: 'Novi Sad' },
  MessageID: MESSAGE_ID,
  ReceivedAt: '2019-11-05T16:33:54.9070259Z',
  Tag: 'welcome-email',
  Recipient: 'john@example.com',
};

forEachDialect(
  'Postmark provider',
  (h) => {
    it('returns basic-auth URLs once, at creation only', async () => {
      const org = await h.createOrg();
      const channel = await createChannel(h, org, { type: 'postmark' });
      const url = new URL(channel.callbackUrls.inbound!);
      expect(url.username).toMatch(/^hd_/);
      expect(url.password.length).toBeGreaterThanOrEqual(32);
      expect(channel.config).toEqual({});
      const read = await h.request({
        method: 'GET',
        url: `/api/channels/${channel.id}`,
        key: org.apiKey,
      });
      expect(new URL(read.json().callbackUrls.inbound).username).toBe('');
      expect(read.body).not.toContain(url.password);
    });

    it('accepts the documented inbound email once, even when posted three times', async () => {
      const org = await h.createOrg();
      const urls = await postmarkChannel(h, org);
      for (let i = 0; i < 3; i += 1) {
        const res = await post(h, urls.inbound, INBOUND);
        expect(res.statusCode, res.body).toBe(200);
      }
      const stored = await inboundEmail(
        h,
        org.organizationId,
        '<CAE3rzt0xkfJ7aJQ2Y2ih7HktyHVTU3HBpHFXi=K4_w-eKnZuqw@mail.gmail.com>',
      );
      expect(stored).toMatchObject({
        subject: 'Test subject',
        email: 'support@postmarkapp.com',
        name: 'Postmarkapp Support',
        body: 'This is a test text body.',
      });
      expect(JSON.parse(stored!.attachments)).toEqual([
        { filename: 'test.txt', contentType: 'text/plain', size: 45, url: null },
      ]);
      expect(await counts(h, org.organizationId)).toMatchObject({
        messages: 1,
        tickets: 1,
        providerEvents: 1,
      });
    });

    it('rejects missing and wrong credentials (401 with a challenge, 403) and stores nothing', async () => {
      const org = await h.createOrg();
      const urls = await postmarkChannel(h, org);
      const other = await postmarkChannel(h, org);
      const missing = await post(h, urls.inbound, INBOUND, '');
      expect(missing.statusCode).toBe(401);
      expect(missing.headers['www-authenticate']).toMatch(/^Basic/);
      expect((await post(h, urls.inbound, INBOUND, other.inbound.auth)).statusCode).toBe(403);
      const [user] = Buffer.from(urls.inbound.auth.slice(6), 'base64').toString().split(':');
      const wrongPassword = `Basic ${Buffer.from(`${user}:nope`).toString('base64')}`;
      expect((await post(h, urls.inbound, INBOUND, wrongPassword)).statusCode).toBe(403);
      expect((await post(h, urls.events, DELIVERY, 'Bearer x')).statusCode).toBe(401);
      expect((await post(h, urls.events, DELIVERY, 'Basic !!!')).statusCode).toBe(401);
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 0, providerEvents: 0 });
    });

    it('applies Delivery, Open and Bounce records once each, never backwards', async () => {
      const org = await h.createOrg();
      const urls = await postmarkChannel(h, org);
      const message = await outboundMessage(h, org, MESSAGE_ID, 'sent');
      for (let i = 0; i < 3; i += 1)
        expect((await post(h, urls.events, DELIVERY)).statusCode).toBe(200);
      expect((await deliveryStatusOf(h, message)).delivery_status).toBe('delivered');
      // Key casing varies: matched case-insensitively.
      const lowerOpen = Object.fromEntries(
        Object.entries(OPEN).map(([k, v]) => [k.charAt(0).toLowerCase() + k.slice(1), v]),
      );
      expect((await post(h, urls.events, lowerOpen)).statusCode).toBe(200);
      expect((await deliveryStatusOf(h, message)).delivery_status).toBe('opened');
      expect((await post(h, urls.events, BOUNCE)).statusCode).toBe(200);
      expect((await deliveryStatusOf(h, message)).delivery_status).toBe('opened');
      expect((await counts(h, org.organizationId)).providerEvents).toBe(3);

      const bounced = await outboundMessage(h, org, 'b-1', 'sent');
      expect((await post(h, urls.events, { ...BOUNCE, MessageID: 'b-1' })).statusCode).toBe(200);
      expect(await deliveryStatusOf(h, bounced)).toEqual({
        delivery_status: 'bounced',
        delivery_error: `HardBounce: ${BOUNCE.Description}`,
      });
      const soft = await outboundMessage(h, org, 's-1', 'sent');
      await post(h, urls.events, { ...BOUNCE, MessageID: 's-1', Type: 'SoftBounce' });
      expect((await deliveryStatusOf(h, soft)).delivery_status).toBe('failed');
      const delayed = await outboundMessage(h, org, 't-1', 'sent');
      await post(h, urls.events, { ...BOUNCE, MessageID: 't-1', Type: 'Transient' });
      expect((await deliveryStatusOf(h, delayed)).delivery_status).toBe('sent');
    });

    it('never answers 5xx or stores anything for malformed bodies', async () => {
      const org = await h.createOrg();
      const urls = await postmarkChannel(h, org);
      for (const body of [
        '{bad',
        '',
        '[]',
        '"x"',
        '{"From":"not an address"}',
        '{"FromFull":{"Email":5}}',
      ]) {
        const res = await post(h, urls.inbound, body);
        expect(res.statusCode, body).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, body).toBeLessThan(500);
      }
      for (const [body, status] of [
        ['{bad', 400],
        ['[]', 400],
        ['{}', 200],
        ['{"RecordType":"Bounce","MessageID":7}', 200],
      ] as const) {
        expect((await post(h, urls.events, body)).statusCode, body).toBe(status);
      }
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 0, tickets: 0 });
    });
  },
  CHANNEL_ENV,
);
