import { describe, expect, it } from 'vitest';
import { getExpectedTwilioSignature, validateRequest } from 'twilio/lib/webhooks/webhooks.js';
import { forEachDialect, type Harness, type Org } from './support/harness.js';
import {
  CHANNEL_ENV,
  counts,
  createChannel,
  deliveryStatusOf,
  outboundMessage,
  pathOf,
} from './support/channels.js';

const ACCOUNT_SID = `AC${'0a'.repeat(16)}`;
const AUTH_TOKEN = 'f3c0ffee0ddba11f3c0ffee0ddba11aa';

describe('Twilio signature (the documented worked example)', () => {
  // https://www.twilio.com/docs/usage/security#validating-requests
  const url = 'https://example.com/myapp.php?foo=1&bar=2';
  const params = {
    CallSid: 'CA1234567890ABCDE',
    Caller: '+14158675310',
    Digits: '1234',
    From: '+14158675310',
    To: '+18005551212',
  };

  it('gives L/OH5YylLD5NRKLltdqwSvS0BnU= for token 12345', () => {
    expect(getExpectedTwilioSignature('12345', url, params)).toBe('L/OH5YylLD5NRKLltdqwSvS0BnU=');
    expect(validateRequest('12345', 'L/OH5YylLD5NRKLltdqwSvS0BnU=', url, params)).toBe(true);
    expect(
      validateRequest('12345', 'L/OH5YylLD5NRKLltdqwSvS0BnU=', url, { ...params, Digits: '9' }),
    ).toBe(false);
  });
});

/** Twilio's documented inbound SMS parameters (Messaging webhook request). */
function smsParams(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ToCountry: 'US',
    ToState: 'CA',
    SmsMessageSid: 'SM1c6b5a0b0f3d8a5e9c7e2a4d6b8f0a12',
    NumMedia: '0',
    ToCity: 'SAN FRANCISCO',
    FromZip: '94105',
    SmsSid: 'SM1c6b5a0b0f3d8a5e9c7e2a4d6b8f0a12',
    FromState: 'CA',
    SmsStatus: 'received',
    FromCity: 'SAN FRANCISCO',
    Body: 'Hello! My order has not arrived.\nIt was due Monday.',
    FromCountry: 'US',
    To: '+14155550100',
    ToZip: '94105',
    NumSegments: '1',
    MessageSid: 'SM1c6b5a0b0f3d8a5e9c7e2a4d6b8f0a12',
    AccountSid: ACCOUNT_SID,
    From: '+14155550123',
    ApiVersion: '2010-04-01',
    ...overrides,
  };
}

function post(h: Harness, url: string, params: Record<string, string>, signature?: string) {
  const payload = new URLSearchParams(params).toString();
  const sig = signature ?? getExpectedTwilioSignature(AUTH_TOKEN, url, params);
  return h.request({
    method: 'POST',
    url: pathOf(url),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(sig === '' ? {} : { 'x-twilio-signature': sig }),
    },
    payload,
  });
}

async function twilioChannel(h: Harness, org: Org, type = 'twilio_sms') {
  return createChannel(h, org, {
    type,
    credentials: { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, phoneNumber: '+14155550100' },
  });
}

forEachDialect(
  'Twilio provider',
  (h) => {
    it('accepts a signed inbound SMS once, answering empty TwiML, even when sent three times', async () => {
      const org = await h.createOrg();
      const channel = await twilioChannel(h, org);
      const url = channel.callbackUrls.inbound!;
      for (let i = 0; i < 3; i += 1) {
        const res = await post(h, url, smsParams());
        expect(res.statusCode, res.body).toBe(200);
        expect(res.headers['content-type']).toMatch(/^text\/xml/);
        expect(res.body).toContain('<Response></Response>');
      }
      expect(await counts(h, org.organizationId)).toMatchObject({
        messages: 1,
        tickets: 1,
        providerEvents: 1,
      });
      const message = await h.db
        .selectFrom('messages')
        .innerJoin('tickets', 'tickets.id', 'messages.ticket_id')
        .innerJoin('contacts', 'contacts.id', 'messages.contact_id')
        .select([
          'messages.body',
          'messages.channel',
          'messages.direction',
          'messages.provider_message_id',
          'tickets.subject',
          'contacts.phone',
        ])
        .where('messages.organization_id', '=', org.organizationId)
        .executeTakeFirstOrThrow();
      expect(message).toEqual({
        body: 'Hello! My order has not arrived.\nIt was due Monday.',
        channel: 'sms',
        direction: 'inbound',
        provider_message_id: 'SM1c6b5a0b0f3d8a5e9c7e2a4d6b8f0a12',
        subject: 'Hello! My order has not arrived.',
        phone: '+14155550123',
      });
      const types = await h.db
        .selectFrom('events')
        .select('type')
        .where('organization_id', '=', org.organizationId)
        .orderBy('id')
        .execute();
      expect(types.map((e) => e.type)).toEqual(['ticket.created', 'message.created']);
    });

    it('rejects missing, wrong and foreign signatures with 401/403 and stores nothing', async () => {
      const org = await h.createOrg();
      const channel = await twilioChannel(h, org);
      const url = channel.callbackUrls.inbound!;
      const params = smsParams();
      expect((await post(h, url, params, '')).statusCode).toBe(401);
      const wrongToken = getExpectedTwilioSignature('another-token', url, params);
      const wrong = await post(h, url, params, wrongToken);
      expect(wrong.statusCode).toBe(403);
      expect(wrong.json().error.code).toBe('forbidden');
      // Signed for another URL (say, the status callback): the URL is part of what is signed.
      const otherUrl = getExpectedTwilioSignature(AUTH_TOKEN, channel.callbackUrls.status!, params);
      expect((await post(h, url, params, otherUrl)).statusCode).toBe(403);
      // A parameter changed after signing.
      const signed = getExpectedTwilioSignature(AUTH_TOKEN, url, params);
      expect((await post(h, url, { ...params, Body: 'tampered' }, signed)).statusCode).toBe(403);
      expect(await counts(h, org.organizationId)).toMatchObject({
        messages: 0,
        tickets: 0,
        providerEvents: 0,
      });
    });

    it('answers 404 for an unknown channel segment and for another provider’s channel', async () => {
      const org = await h.createOrg();
      const channel = await createChannel(h, org, {
        type: 'mailgun',
        credentials: { signingKey: 'k'.repeat(20) },
      });
      const url = channel.callbackUrls.inbound!.replace('/mailgun/inbound', '/twilio/inbound');
      expect((await post(h, url, smsParams())).statusCode).toBe(404);
      const unknown = 'https://hooks.example.test/api/rpc/channels/nope/twilio/inbound';
      expect((await post(h, unknown, smsParams())).statusCode).toBe(404);
    });

    it('threads: joins the open ticket on the same channel; a resolved ticket means a new one', async () => {
      const org = await h.createOrg();
      const channel = await twilioChannel(h, org);
      const other = await twilioChannel(h, org);
      const url = channel.callbackUrls.inbound!;
      await post(h, url, smsParams({ MessageSid: 'SM01', Body: 'first' }));
      await post(h, url, smsParams({ MessageSid: 'SM02', Body: 'second' }));
      const tickets = async () =>
        h.db
          .selectFrom('messages')
          .select(['ticket_id', 'body'])
          .where('organization_id', '=', org.organizationId)
          .orderBy('id')
          .execute();
      let rows = await tickets();
      expect(rows).toHaveLength(2);
      expect(rows[1]!.ticket_id).toBe(rows[0]!.ticket_id);

      // The same person on another channel (another number) is another conversation.
      await post(
        h,
        other.callbackUrls.inbound!,
        smsParams({ MessageSid: 'SM03', Body: 'elsewhere' }),
      );
      rows = await tickets();
      expect(rows[2]!.ticket_id).not.toBe(rows[0]!.ticket_id);

      const patched = await h.request({
        method: 'PATCH',
        url: `/api/tickets/${rows[0]!.ticket_id}`,
        key: org.apiKey,
        payload: { status: 'pending' },
      });
      expect(patched.statusCode, patched.body).toBe(200);
      await post(h, url, smsParams({ MessageSid: 'SM04', Body: 'still pending joins' }));
      await h.request({
        method: 'PATCH',
        url: `/api/tickets/${rows[0]!.ticket_id}`,
        key: org.apiKey,
        payload: { status: 'resolved' },
      });
      await post(h, url, smsParams({ MessageSid: 'SM05', Body: 'after resolve' }));
      rows = await tickets();
      expect(rows[3]!.ticket_id).toBe(rows[0]!.ticket_id);
      expect(rows[4]!.ticket_id).not.toBe(rows[0]!.ticket_id);
      expect(rows[4]!.ticket_id).not.toBe(rows[2]!.ticket_id);
    });

    it('threads concurrent first messages from one sender into one ticket, each retry once', async () => {
      const org = await h.createOrg();
      const channel = await twilioChannel(h, org);
      const url = channel.callbackUrls.inbound!;
      const sends = ['SMc1', 'SMc2', 'SMc3', 'SMc1', 'SMc2', 'SMc3'].map((sid) =>
        post(h, url, smsParams({ MessageSid: sid, From: '+14155550999', Body: sid })),
      );
      for (const res of await Promise.all(sends)) expect(res.statusCode, res.body).toBe(200);
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 3, tickets: 1 });
    });

    it('takes WhatsApp senders, profile names and media from the documented fields', async () => {
      const org = await h.createOrg();
      const channel = await twilioChannel(h, org, 'twilio_whatsapp');
      const res = await post(h, channel.callbackUrls.inbound!, {
        SmsMessageSid: 'MM0a1b2c3d4e5f60718293a4b5c6d7e8f9',
        NumMedia: '1',
        ProfileName: 'Ana Souza',
        MessageType: 'image',
        SmsSid: 'MM0a1b2c3d4e5f60718293a4b5c6d7e8f9',
        WaId: '5511987654321',
        SmsStatus: 'received',
        Body: '',
        To: 'whatsapp:+14155238886',
        MediaContentType0: 'image/jpeg',
        MediaUrl0: `https://api.twilio.com/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/MM0a/Media/ME0b1c`,
        NumSegments: '1',
        ReferralNumMedia: '0',
        MessageSid: 'MM0a1b2c3d4e5f60718293a4b5c6d7e8f9',
        AccountSid: ACCOUNT_SID,
        From: 'whatsapp:+5511987654321',
        ApiVersion: '2010-04-01',
      });
      expect(res.statusCode, res.body).toBe(200);
      const row = await h.db
        .selectFrom('messages')
        .innerJoin('contacts', 'contacts.id', 'messages.contact_id')
        .innerJoin('tickets', 'tickets.id', 'messages.ticket_id')
        .select([
          'messages.channel',
          'messages.attachments',
          'contacts.phone',
          'contacts.name',
          'tickets.subject',
        ])
        .where('messages.organization_id', '=', org.organizationId)
        .executeTakeFirstOrThrow();
      expect(row.channel).toBe('whatsapp');
      expect(row.phone).toBe('+5511987654321');
      expect(row.name).toBe('Ana Souza');
      expect(row.subject).toBe('WhatsApp message from +5511987654321');
      expect(JSON.parse(row.attachments)).toEqual([
        {
          filename: 'ME0b1c',
          contentType: 'image/jpeg',
          size: null,
          url: `https://api.twilio.com/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/MM0a/Media/ME0b1c`,
        },
      ]);
    });

    it('applies status callbacks out of order without moving backwards, each once', async () => {
      const org = await h.createOrg();
      const channel = await twilioChannel(h, org);
      const messageId = await outboundMessage(h, org, 'SM9f8e7d6c5b4a39281706f5e4d3c2b1a0');
      const url = channel.callbackUrls.status!;
      const status = (MessageStatus: string, extra: Record<string, string> = {}) =>
        post(h, url, {
          MessageSid: 'SM9f8e7d6c5b4a39281706f5e4d3c2b1a0',
          MessageStatus,
          SmsStatus: MessageStatus,
          AccountSid: ACCOUNT_SID,
          From: '+14155550100',
          To: '+14155550123',
          ApiVersion: '2010-04-01',
          ...extra,
        });
      for (let i = 0; i < 3; i += 1) {
        const res = await status('delivered');
        expect(res.statusCode).toBe(200);
        expect(res.body).toBe('');
      }
      expect((await status('sent')).statusCode).toBe(200);
      expect(await deliveryStatusOf(h, messageId)).toEqual({
        delivery_status: 'delivered',
        delivery_error: null,
      });
      expect((await counts(h, org.organizationId)).providerEvents).toBe(2);

      const failing = await outboundMessage(h, org, 'SM00000000000000000000000000000001', 'sent');
      await post(h, url, {
        MessageSid: 'SM00000000000000000000000000000001',
        MessageStatus: 'undelivered',
        ErrorCode: '30003',
        AccountSid: ACCOUNT_SID,
      });
      expect(await deliveryStatusOf(h, failing)).toEqual({
        delivery_status: 'failed',
        delivery_error: '30003',
      });
    });

    it('never answers 5xx or stores anything for malformed bodies', async () => {
      const org = await h.createOrg();
      const channel = await twilioChannel(h, org);
      const url = channel.callbackUrls.inbound!;
      const cases: { params: Record<string, string>; status: number }[] = [
        { params: {}, status: 400 },
        { params: { MessageSid: 'SM1' }, status: 400 },
        {
          params: { MessageSid: 'SM1', From: '+14155550123', Body: 'nul \u0000 here' },
          status: 400,
        },
      ];
      for (const c of cases) {
        const res = await post(h, url, c.params);
        expect(res.statusCode, res.body).toBe(c.status);
      }
      const status = await post(h, channel.callbackUrls.status!, { MessageSid: 'SM1' });
      expect(status.statusCode).toBe(400);
      const garbage = await h.request({
        method: 'POST',
        url: pathOf(url),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'x' },
        payload: '%%%&&&==\u00ff',
      });
      expect(garbage.statusCode).toBe(403);
      const json = await h.request({
        method: 'POST',
        url: pathOf(url),
        headers: { 'content-type': 'text/plain', 'x-twilio-signature': 'x' },
        payload: 'hello',
      });
      expect(json.statusCode).toBe(415);
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 0, providerEvents: 0 });
    });
  },
  CHANNEL_ENV,
);
