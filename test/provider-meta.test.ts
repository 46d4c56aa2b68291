import { createHmac } from 'node:crypto';
import { expect, it } from 'vitest';
import { forEachDialect, type Harness, type Org } from './support/harness.js';
import {
  CHANNEL_ENV,
  counts,
  createChannel,
  deliveryStatusOf,
  outboundMessage,
  pathOf,
} from './support/channels.js';

const APP_SECRET = '0123456789abcdef0123456789abcdef';
const VERIFY_TOKEN = 'my-verify-token-42';
const PHONE_NUMBER_ID = '106540352242922';

/** Meta's documented text-message webhook (messages webhook reference). */
function textMessage(id = 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=') {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_NUMBER_ID },
              contacts: [{ profile: { name: 'Sheena Nelson' }, wa_id: '16505551234' }],
              messages: [
                {
                  from: '16505551234',
                  id,
                  timestamp: '1749416383',
                  type: 'text',
                  text: { body: 'Does it come in another color?' },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  };
}

function statusChange(id: string, status: string, extra: object = {}) {
  return {
    value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_NUMBER_ID },
      statuses: [
        {
          id,
          status,
          timestamp: '1749416390',
          recipient_id: '16505551234',
          ...extra,
        },
      ],
    },
    field: 'messages',
  };
}

function sign(body: string, secret = APP_SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function post(h: Harness, url: string, body: string, signature?: string) {
  const sig = signature ?? sign(body);
  return h.request({
    method: 'POST',
    url: pathOf(url),
    headers: {
      'content-type': 'application/json',
      ...(sig === '' ? {} : { 'x-hub-signature-256': sig }),
    },
    payload: body,
  });
}

async function metaChannel(h: Harness, org: Org) {
  const channel = await createChannel(h, org, {
    type: 'meta_whatsapp',
    credentials: {
      appSecret: APP_SECRET,
      verifyToken: VERIFY_TOKEN,
      phoneNumberId: PHONE_NUMBER_ID,
    },
  });
  return channel.callbackUrls.webhook!;
}

forEachDialect(
  'Meta WhatsApp provider',
  (h) => {
    it('answers the verification handshake with the challenge, else 403', async () => {
      const org = await h.createOrg();
      const url = pathOf(await metaChannel(h, org));
      const ok = await h.request({
        method: 'GET',
        url: `${url}?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`,
      });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toBe('1158201444');
      expect(ok.headers['content-type']).toMatch(/^text\/plain/);
      for (const query of [
        `hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1`,
        `hub.mode=unsubscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1`,
        `hub.mode=subscribe&hub.challenge=1`,
        ``,
      ]) {
        const res = await h.request({ method: 'GET', url: `${url}?${query}` });
        expect(res.statusCode, query).toBe(403);
      }
    });

    it('stores a signed inbound message once, even when posted three times', async () => {
      const org = await h.createOrg();
      const url = await metaChannel(h, org);
      const body = JSON.stringify(textMessage());
      for (let i = 0; i < 3; i += 1) {
        const res = await post(h, url, body);
        expect(res.statusCode, res.body).toBe(200);
      }
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 1, tickets: 1 });
      const row = await h.db
        .selectFrom('messages')
        .innerJoin('contacts', 'contacts.id', 'messages.contact_id')
        .select([
          'messages.body',
          'messages.channel',
          'messages.provider_message_id',
          'contacts.phone',
          'contacts.name',
        ])
        .where('messages.organization_id', '=', org.organizationId)
        .executeTakeFirstOrThrow();
      expect(row).toEqual({
        body: 'Does it come in another color?',
        channel: 'whatsapp',
        provider_message_id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=',
        phone: '+16505551234',
        name: 'Sheena Nelson',
      });
    });

    it('rejects missing, wrong and re-serialized signatures and stores nothing', async () => {
      const org = await h.createOrg();
      const url = await metaChannel(h, org);
      const body = JSON.stringify(textMessage());
      expect((await post(h, url, body, '')).statusCode).toBe(401);
      expect((await post(h, url, body, sign(body, 'another-secret'))).statusCode).toBe(403);
      expect((await post(h, url, body, 'sha256=')).statusCode).toBe(403);
      // Signed over pretty-printed JSON: same data, other bytes.
      const pretty = JSON.stringify(textMessage(), null, 2);
      expect((await post(h, url, body, sign(pretty))).statusCode).toBe(403);
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 0, providerEvents: 0 });
    });

    it('handles several entries and changes per POST: messages, statuses, other numbers', async () => {
      const org = await h.createOrg();
      const url = await metaChannel(h, org);
      const sent = await outboundMessage(h, org, 'wamid.OUT1');
      const failed = await outboundMessage(h, org, 'wamid.OUT2', 'sent');
      const first = textMessage('wamid.IN1');
      const second = textMessage('wamid.IN2');
      const otherNumber = textMessage('wamid.IN3');
      otherNumber.entry[0]!.changes[0]!.value.metadata.phone_number_id = '999';
      const body = JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [
          {
            id: '1',
            changes: [first.entry[0]!.changes[0], statusChange('wamid.OUT1', 'delivered')],
          },
          {
            id: '2',
            changes: [
              second.entry[0]!.changes[0],
              statusChange('wamid.OUT1', 'read'),
              statusChange('wamid.OUT2', 'failed', {
                errors: [{ code: 131026, title: 'Message undeliverable' }],
              }),
              otherNumber.entry[0]!.changes[0],
              { field: 'account_update', value: { event: 'X' } },
            ],
          },
        ],
      });
      for (let i = 0; i < 2; i += 1) expect((await post(h, url, body)).statusCode).toBe(200);
      // A late `delivered` after `read` changes nothing.
      const late = JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [{ id: '1', changes: [statusChange('wamid.OUT1', 'sent')] }],
      });
      expect((await post(h, url, late)).statusCode).toBe(200);
      const inbound = await h.db
        .selectFrom('messages')
        .select(['provider_message_id', 'ticket_id'])
        .where('organization_id', '=', org.organizationId)
        .where('direction', '=', 'inbound')
        .orderBy('id')
        .execute();
      expect(inbound.map((m) => m.provider_message_id)).toEqual(['wamid.IN1', 'wamid.IN2']);
      expect(inbound[1]!.ticket_id).toBe(inbound[0]!.ticket_id);
      expect((await deliveryStatusOf(h, sent)).delivery_status).toBe('opened');
      expect(await deliveryStatusOf(h, failed)).toEqual({
        delivery_status: 'failed',
        delivery_error: '131026: Message undeliverable',
      });
    });

    it('never answers 5xx or stores anything for malformed bodies', async () => {
      const org = await h.createOrg();
      const url = await metaChannel(h, org);
      const cases: [string, number][] = [
        ['{not json', 400],
        ['', 400],
        ['[]', 200],
        ['{"object":"page","entry":[]}', 200],
        ['{"object":"whatsapp_business_account","entry":"x"}', 200],
        [
          '{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"id":5},{"from":"1"},null]}}]}]}',
          200,
        ],
        ['{"__proto__":{"x":1}}', 400],
      ];
      for (const [body, status] of cases) {
        const res = await post(h, url, body);
        expect(res.statusCode, body).toBe(status);
      }
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 0, tickets: 0 });
    });
  },
  CHANNEL_ENV,
);
