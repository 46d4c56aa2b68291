/**
 * Rate limits of the provider callbacks and HOOKDESK_TRUST_PROXY: a source
 * that keeps failing authentication is refused with 429, while correctly
 * signed callbacks (each provider's own signing algorithm) from other sources
 * still pass; behind a trusted proxy, X-Forwarded-For decides the source.
 */
import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { FailureWindows, sourceOf } from '../src/inbound/providers/failure-limit.js';
import { fastifyTrustProxy } from '../src/http/trust-proxy.js';
import { ManualClock } from '../src/clock.js';
import { forEachDialect, type Harness, type Org } from './support/harness.js';
import { CHANNEL_ENV, counts, createChannel, pathOf } from './support/channels.js';
import { inbound, postInbound } from './support/email.js';

const LIMIT = 3;

const TWILIO = {
  accountSid: `AC${'0a'.repeat(16)}`,
  authToken: 'f3c0ffee0ddba11f3c0ffee0ddba11aa',
};
const META = {
  appSecret: '0123456789abcdef0123456789abcdef',
  verifyToken: 'my-verify-token-42',
  phoneNumberId: '106540352242922',
};
const MAILGUN_KEY = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';
const SENDGRID = (() => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    privateKey,
  };
})();

interface Post {
  method?: 'POST' | 'GET';
  url: string;
  headers: Record<string, string>;
  payload: string;
}

/** One provider: how to make a channel, and a correctly signed and an unsigned callback. */
interface Provider {
  name: string;
  channel(h: Harness, org: Org): Promise<string>;
  signed(h: Harness, url: string, n: number): Post;
  unsigned(h: Harness, url: string, n: number): Post;
  /** Status of the unsigned callback: missing credential. */
  refused: number;
}

const json = { 'content-type': 'application/json' };

function twilioParams(n: number): Record<string, string> {
  return {
    MessageSid: `SM${n.toString(16).padStart(32, '0')}`,
    AccountSid: TWILIO.accountSid,
    From: '+14155550123',
    To: '+14155550100',
    Body: `Message ${n}`,
    NumMedia: '0',
  };
}

function metaBody(n: number): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: {
                display_phone_number: '15550783881',
                phone_number_id: META.phoneNumberId,
              },
              contacts: [{ profile: { name: 'Sheena Nelson' }, wa_id: '16505551234' }],
              messages: [
                {
                  from: '16505551234',
                  id: `wamid.rate-limit-${n}-${randomBytes(4).toString('hex')}`,
                  timestamp: '1749416383',
                  type: 'text',
                  text: { body: `Message ${n}` },
                },
              ],
            },
          },
        ],
      },
    ],
  });
}

const sendgridBody = (n: number) =>
  JSON.stringify([
    {
      email: 'pat@example.com',
      timestamp: 1513299569,
      event: 'delivered',
      sg_event_id: `rate-limit-${n}-${randomBytes(4).toString('hex')}`,
      sg_message_id: 'nothing-sent.filter0001',
    },
  ]);

function mailgunSignature(h: Harness) {
  const timestamp = String(Math.floor(h.clock.now() / 1000));
  const token = randomBytes(25).toString('hex');
  const signature = createHmac('sha256', MAILGUN_KEY)
    .update(timestamp + token)
    .digest('hex');
  return { timestamp, token, signature };
}

const mailgunEvent = (n: number) => ({
  event: 'delivered',
  id: `rate-limit-${n}-${randomBytes(4).toString('hex')}`,
  timestamp: 1521472262.908181,
  message: { headers: { 'message-id': 'nothing-sent@example.com' } },
});

const postmarkBody = (n: number) =>
  JSON.stringify({
    RecordType: 'Delivery',
    ServerID: 23,
    MessageStream: 'outbound',
    MessageID: `rate-limit-${n}-${randomBytes(4).toString('hex')}`,
    Recipient: 'pat@example.com',
    DeliveredAt: '2026-01-15T10:30:00Z',
    Details: 'Test delivery webhook details',
  });

const PROVIDERS: Provider[] = [
  {
    name: 'Twilio',
    async channel(h, org) {
      const channel = await createChannel(h, org, {
        type: 'twilio_sms',
        credentials: { ...TWILIO, phoneNumber: '+14155550100' },
      });
      return channel.callbackUrls.inbound!;
    },
    signed: (_h, url, n) => {
      const params = twilioParams(n);
      return {
        url: pathOf(url),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': getExpectedTwilioSignature(TWILIO.authToken, url, params),
        },
        payload: new URLSearchParams(params).toString(),
      };
    },
    unsigned: (_h, url, n) => ({
      url: pathOf(url),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(twilioParams(n)).toString(),
    }),
    refused: 401,
  },
  {
    name: 'Meta',
    async channel(h, org) {
      const channel = await createChannel(h, org, { type: 'meta_whatsapp', credentials: META });
      return channel.callbackUrls.webhook!;
    },
    signed: (_h, url, n) => {
      const body = metaBody(n);
      const hmac = createHmac('sha256', META.appSecret).update(body).digest('hex');
      return {
        url: pathOf(url),
        headers: { ...json, 'x-hub-signature-256': `sha256=${hmac}` },
        payload: body,
      };
    },
    unsigned: (_h, url, n) => ({ url: pathOf(url), headers: json, payload: metaBody(n) }),
    refused: 401,
  },
  {
    name: 'SendGrid',
    async channel(h, org) {
      const channel = await createChannel(h, org, {
        type: 'sendgrid',
        credentials: { eventWebhookPublicKey: SENDGRID.publicKey },
      });
      return channel.callbackUrls.events!;
    },
    signed: (h, url, n) => {
      const body = sendgridBody(n);
      const timestamp = String(Math.floor(h.clock.now() / 1000));
      const signature = sign(
        'sha256',
        Buffer.concat([Buffer.from(timestamp), Buffer.from(body)]),
        SENDGRID.privateKey,
      ).toString('base64');
      return {
        url: pathOf(url),
        headers: {
          ...json,
          'x-twilio-email-event-webhook-signature': signature,
          'x-twilio-email-event-webhook-timestamp': timestamp,
        },
        payload: body,
      };
    },
    unsigned: (_h, url, n) => ({ url: pathOf(url), headers: json, payload: sendgridBody(n) }),
    refused: 401,
  },
  {
    name: 'Mailgun',
    async channel(h, org) {
      const channel = await createChannel(h, org, {
        type: 'mailgun',
        credentials: { signingKey: MAILGUN_KEY },
      });
      return channel.callbackUrls.events!;
    },
    signed: (h, url, n) => ({
      url: pathOf(url),
      headers: json,
      payload: JSON.stringify({ signature: mailgunSignature(h), 'event-data': mailgunEvent(n) }),
    }),
    unsigned: (_h, url, n) => ({
      url: pathOf(url),
      headers: json,
      payload: JSON.stringify({ 'event-data': mailgunEvent(n) }),
    }),
    refused: 401,
  },
  {
    name: 'Postmark',
    async channel(h, org) {
      const channel = await createChannel(h, org, { type: 'postmark' });
      return channel.callbackUrls.events!;
    },
    signed: (_h, url, n) => {
      const u = new URL(url);
      const pair = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
      return {
        url: u.pathname,
        headers: { ...json, authorization: `Basic ${Buffer.from(pair).toString('base64')}` },
        payload: postmarkBody(n),
      };
    },
    unsigned: (_h, url, n) => ({
      url: new URL(url).pathname,
      headers: json,
      payload: postmarkBody(n),
    }),
    refused: 401,
  },
];

type Send = (p: Post, from: string, forwardedFor?: string) => ReturnType<Harness['request']>;

function sender(h: Harness): Send {
  return (p, from, forwardedFor) =>
    h.request({
      method: p.method ?? 'POST',
      url: p.url,
      headers: { ...p.headers, ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
      payload: p.payload,
      remoteAddress: from,
    });
}

function expectLimited(res: { statusCode: number; headers: Record<string, unknown>; json(): any }) {
  expect(res.statusCode).toBe(429);
  expect(res.json().error.code).toBe('rate_limited');
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

const PROVIDER_ADDRESS = '198.51.100.7';

forEachDialect(
  'provider callback rate limits',
  (h) => {
    const send = sender(h);

    for (const [i, provider] of PROVIDERS.entries()) {
      it(`${provider.name}: a flood of unsigned requests from one source gets 429; signed callbacks still pass`, async () => {
        const org = await h.createOrg();
        const url = await provider.channel(h, org);
        const attacker = `203.0.113.${10 + i}`;
        const before = await counts(h, org.organizationId);
        for (let n = 0; n < LIMIT; n += 1) {
          const res = await send(provider.unsigned(h, url, n), attacker);
          expect(res.statusCode, res.body).toBe(provider.refused);
        }
        for (let n = LIMIT; n < LIMIT + 3; n += 1) {
          expectLimited(await send(provider.unsigned(h, url, n), attacker));
        }
        // Refused before the signature is even looked at: a signed request from that source too.
        expectLimited(await send(provider.signed(h, url, 100), attacker));
        expect(await counts(h, org.organizationId)).toEqual(before);

        // The provider, from its own address, is not affected, nor is any other source.
        const signed = await send(provider.signed(h, url, 101), PROVIDER_ADDRESS);
        expect(signed.statusCode, signed.body).toBe(200);
        expect((await counts(h, org.organizationId)).providerEvents).toBeGreaterThan(
          before.providerEvents,
        );
        const other = await send(provider.unsigned(h, url, 102), '192.0.2.44');
        expect(other.statusCode).toBe(provider.refused);

        // The window is one minute (of the injected clock).
        h.clock.advance(60_000);
        const later = await send(provider.unsigned(h, url, 103), attacker);
        expect(later.statusCode).toBe(provider.refused);
      });
    }

    it('a source whose callbacks fail on one channel is refused there only', async () => {
      // A provider address shared by every tenant; one tenant's channel has a wrong secret.
      const meta = PROVIDERS[1]!;
      const broken = await meta.channel(h, await h.createOrg());
      const healthy = await meta.channel(h, await h.createOrg());
      const wrong = (n: number) => {
        const p = meta.signed(h, broken, n);
        return {
          ...p,
          headers: { ...p.headers, 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
        };
      };
      const source = '198.51.100.20';
      for (let n = 0; n < LIMIT; n += 1)
        expect((await send(wrong(n), source)).statusCode).toBe(403);
      expectLimited(await send(wrong(LIMIT), source));
      const res = await send(meta.signed(h, healthy, 1), source);
      expect(res.statusCode, res.body).toBe(200);
    });

    it('a source failing on many channels is refused on all of them after ten times the limit', async () => {
      const source = '203.0.113.99';
      const unknown = (n: number) => ({
        url: `/api/rpc/channels/unknown${n.toString().padStart(20, '0')}/meta/webhook`,
        headers: json,
        payload: '{}',
      });
      for (let n = 0; n < LIMIT * 10; n += 1) {
        expect((await send(unknown(n), source)).statusCode).toBe(404);
      }
      expectLimited(await send(unknown(LIMIT * 10), source));
      const meta = PROVIDERS[1]!;
      const url = await meta.channel(h, await h.createOrg());
      expectLimited(await send(meta.signed(h, url, 1), source));
      const res = await send(meta.signed(h, url, 2), PROVIDER_ADDRESS);
      expect(res.statusCode, res.body).toBe(200);
    });

    it('counts IPv6 sources per /64', async () => {
      const twilio = PROVIDERS[0]!;
      const url = await twilio.channel(h, await h.createOrg());
      for (let n = 0; n < LIMIT; n += 1) {
        const res = await send(twilio.unsigned(h, url, n), `2001:db8:7:1::${n + 1}`);
        expect(res.statusCode).toBe(401);
      }
      expectLimited(await send(twilio.unsigned(h, url, 9), '2001:db8:7:1:ffff::9'));
      expect((await send(twilio.unsigned(h, url, 10), '2001:db8:7:2::1')).statusCode).toBe(401);
    });

    it('ignores X-Forwarded-For without HOOKDESK_TRUST_PROXY', async () => {
      const twilio = PROVIDERS[0]!;
      const url = await twilio.channel(h, await h.createOrg());
      const proxy = '10.0.0.1';
      for (let n = 0; n < LIMIT; n += 1) {
        const res = await send(twilio.unsigned(h, url, n), proxy, `203.0.113.${n + 1}`);
        expect(res.statusCode).toBe(401);
      }
      // Another "client" according to the header: the same source all the same.
      expectLimited(await send(twilio.unsigned(h, url, 9), proxy, '203.0.113.200'));
    });
  },
  { ...CHANNEL_ENV, HOOKDESK_PROVIDER_FAILURE_LIMIT: String(LIMIT) },
);

forEachDialect(
  'behind a trusted proxy (HOOKDESK_TRUST_PROXY as CIDR)',
  (h) => {
    const send = sender(h);
    const PROXY = '10.0.0.1';

    it('keys provider limits on the forwarded client: two clients through one proxy are counted apart', async () => {
      const twilio = PROVIDERS[0]!;
      const url = await twilio.channel(h, await h.createOrg());
      for (let n = 0; n < LIMIT; n += 1) {
        expect((await send(twilio.unsigned(h, url, n), PROXY, '203.0.113.5')).statusCode).toBe(401);
      }
      expectLimited(await send(twilio.unsigned(h, url, 9), PROXY, '203.0.113.5'));
      // A second client through the same proxy has its own count.
      expect((await send(twilio.unsigned(h, url, 10), PROXY, '203.0.113.6')).statusCode).toBe(401);
      // A client's own X-Forwarded-For is left of what the proxy appends, and is not believed.
      expectLimited(
        await send(twilio.unsigned(h, url, 11), PROXY, `${PROVIDER_ADDRESS}, 203.0.113.5`),
      );
      const res = await send(twilio.signed(h, url, 12), PROXY, PROVIDER_ADDRESS);
      expect(res.statusCode, res.body).toBe(200);
    });

    it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
      const twilio = PROVIDERS[0]!;
      const url = await twilio.channel(h, await h.createOrg());
      const direct = '192.0.2.9';
      for (let n = 0; n < LIMIT; n += 1) {
        const res = await send(twilio.unsigned(h, url, n), direct, `203.0.113.${50 + n}`);
        expect(res.statusCode).toBe(401);
      }
      expectLimited(await send(twilio.unsigned(h, url, 9), direct, '203.0.113.99'));
    });

    it('keys the public email endpoint limits on the forwarded client too', async () => {
      const org = await h.createOrg();
      for (let n = 0; n < LIMIT; n += 1) {
        const res = await postInbound(h, inbound(org, { messageId: `<c1-${n}@example.com>` }), {
          remoteAddress: PROXY,
          headers: { 'x-forwarded-for': '203.0.113.21' },
        });
        expect(res.statusCode, res.body).toBe(200);
      }
      const limited = await postInbound(h, inbound(org, { messageId: '<c1-x@example.com>' }), {
        remoteAddress: PROXY,
        headers: { 'x-forwarded-for': '203.0.113.21' },
      });
      expect(limited.statusCode).toBe(429);
      const other = await h.createOrg();
      const res = await postInbound(h, inbound(other, { messageId: '<c2@example.com>' }), {
        remoteAddress: PROXY,
        headers: { 'x-forwarded-for': '203.0.113.22' },
      });
      expect(res.statusCode, res.body).toBe(200);
    });
  },
  {
    ...CHANNEL_ENV,
    HOOKDESK_PROVIDER_FAILURE_LIMIT: String(LIMIT),
    HOOKDESK_INBOUND_RATE_LIMIT: String(LIMIT),
    HOOKDESK_TRUST_PROXY: '10.0.0.0/8, fd00::/8',
  },
);

forEachDialect(
  'behind a trusted proxy (HOOKDESK_TRUST_PROXY as a hop count)',
  (h) => {
    const send = sender(h);

    it('takes the address that many hops from the right of X-Forwarded-For', async () => {
      const twilio = PROVIDERS[0]!;
      const url = await twilio.channel(h, await h.createOrg());
      const proxy = '172.16.5.5';
      for (let n = 0; n < LIMIT; n += 1) {
        const forwarded = `198.51.100.${n + 1}, 203.0.113.9`;
        expect((await send(twilio.unsigned(h, url, n), proxy, forwarded)).statusCode).toBe(401);
      }
      expectLimited(await send(twilio.unsigned(h, url, 9), proxy, '203.0.113.9'));
      expect((await send(twilio.unsigned(h, url, 10), proxy, '203.0.113.10')).statusCode).toBe(401);
    });
  },
  { ...CHANNEL_ENV, HOOKDESK_PROVIDER_FAILURE_LIMIT: String(LIMIT), HOOKDESK_TRUST_PROXY: '1' },
);

describe('HOOKDESK_TRUST_PROXY and source keys', () => {
  const parse = (value: string | undefined) =>
    loadConfig(value === undefined ? {} : { HOOKDESK_TRUST_PROXY: value }).trustProxy;

  it('parses nothing, true, hop counts and address lists', () => {
    expect(parse(undefined)).toBe(false);
    expect(parse('false')).toBe(false);
    expect(parse('0')).toBe(false);
    expect(parse('TRUE')).toBe(true);
    expect(parse('2')).toBe(2);
    expect(parse('10.0.0.1, 172.16.0.0/12,::1, fd00::/8 ,loopback')).toEqual([
      '10.0.0.1',
      '172.16.0.0/12',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
  });

  it('refuses entries that are not addresses or ranges, naming the variable', () => {
    for (const bad of ['10.0.0', '10/8', 'proxy.internal', '11', '10.0.0.1,,x', '1.2.3.4/33']) {
      let error: unknown;
      try {
        loadConfig({ HOOKDESK_TRUST_PROXY: bad });
      } catch (e) {
        error = e;
      }
      expect(error, bad).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe('HOOKDESK_TRUST_PROXY');
    }
  });

  it('maps a hop count onto a trust function over the first hops', () => {
    const trust = fastifyTrustProxy(2) as (address: string, hop: number) => boolean;
    expect([0, 1, 2].map((hop) => trust('203.0.113.1', hop))).toEqual([true, true, false]);
  });

  it('keys IPv4 (also IPv4-mapped) as is and IPv6 by /64', () => {
    expect(sourceOf('203.0.113.5')).toBe('203.0.113.5');
    expect(sourceOf('::ffff:203.0.113.5')).toBe('203.0.113.5');
    expect(sourceOf('2001:db8:1:2:3:4:5:6')).toBe(sourceOf('2001:db8:1:2::9'));
    expect(sourceOf('2001:db8:1:2::9')).not.toBe(sourceOf('2001:db8:1:3::9'));
  });

  it('keeps a bounded number of keys', () => {
    const windows = new FailureWindows(new ManualClock(), 5);
    for (let n = 0; n < 100_050; n += 1) windows.fail(`k${n}`);
    expect(windows.size).toBeLessThanOrEqual(100_000);
    // The newest are kept.
    for (let n = 0; n < 4; n += 1) windows.fail('k100049');
    expect(windows.retryAfter('k100049')).toBe(60);
  });
});
