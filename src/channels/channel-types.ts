/**
 * What each channel type takes and answers (SPEC §8.3's table), said once:
 * its credential fields (secret or shown in `config`), how each is checked,
 * and the callback URLs it gets. The routes and the provider adapters read
 * this table; nothing else knows a type's fields.
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import { normalizePhone } from '../contacts/contacts.repository.js';
import type { ChannelType } from '../db/schema.js';

export const CHANNEL_TYPES = [
  'twilio_sms',
  'twilio_whatsapp',
  'sendgrid',
  'meta_whatsapp',
  'mailgun',
  'postmark',
] as const satisfies readonly ChannelType[];

/** The path segment of a provider's endpoints: both Twilio types share the Twilio adapter. */
export type Provider = 'twilio' | 'sendgrid' | 'meta' | 'mailgun' | 'postmark';

export interface CredentialField {
  readonly name: string;
  /** Secrets are encrypted and never returned; the others are shown in `config`. */
  readonly secret: boolean;
  readonly optional?: boolean;
  /** The value to store, or a problem message (as `{ problem }`). */
  parse(value: string): string | { problem: string };
}

export interface ChannelTypeSpec {
  readonly provider: Provider;
  readonly fields: readonly CredentialField[];
  /** `callbackUrls` key → path after `/api/rpc/channels/{routeKey}/`. */
  readonly callbacks: Readonly<Record<string, string>>;
  /** Secrets Hookdesk makes up instead of taking them (Postmark's basic-auth pair). */
  generate?(): Record<string, string>;
}

const MAX = 500;

function text(min = 1): CredentialField['parse'] {
  return (value) =>
    value.length < min || value.length > MAX
      ? { problem: `must be ${min} to ${MAX} characters` }
      : value;
}

function pattern(re: RegExp, rule: string): CredentialField['parse'] {
  return (value) => (re.test(value) ? value : { problem: rule });
}

/** Twilio shows WhatsApp senders as `whatsapp:+1…`; the number itself is what is stored. */
function phone(value: string): string | { problem: string } {
  const number = normalizePhone(value.replace(/^whatsapp:/i, ''));
  return number ?? { problem: 'must be a phone number such as +14155550100' };
}

/**
 * SendGrid shows the key as base64 DER (SPKI); a PEM copy is accepted too.
 * Checked here so a wrong key fails at setup, not at the first event.
 */
function ecdsaP256PublicKey(value: string): string | { problem: string } {
  const base64 = value.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  try {
    const key = createPublicKey({
      key: Buffer.from(base64, 'base64'),
      format: 'der',
      type: 'spki',
    });
    if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
      return base64;
    }
  } catch {
    // Falls through to the problem below.
  }
  return { problem: 'must be the base64 DER (SPKI) of an ECDSA P-256 public key' };
}

const twilio: ChannelTypeSpec = {
  provider: 'twilio',
  fields: [
    {
      name: 'accountSid',
      secret: false,
      parse: pattern(/^AC[0-9a-fA-F]{32}$/, 'must be AC followed by 32 hex digits'),
    },
    { name: 'authToken', secret: true, parse: text() },
    { name: 'phoneNumber', secret: false, parse: phone },
  ],
  callbacks: { inbound: 'twilio/inbound', status: 'twilio/status' },
};

export const CHANNEL_SPECS: Readonly<Record<ChannelType, ChannelTypeSpec>> = {
  twilio_sms: twilio,
  twilio_whatsapp: twilio,
  sendgrid: {
    provider: 'sendgrid',
    fields: [
      { name: 'eventWebhookPublicKey', secret: false, parse: ecdsaP256PublicKey },
      { name: 'inboundParseToken', secret: true, optional: true, parse: text(16) },
    ],
    callbacks: { events: 'sendgrid/events', inbound: 'sendgrid/inbound' },
  },
  meta_whatsapp: {
    provider: 'meta',
    fields: [
      { name: 'appSecret', secret: true, parse: text() },
      { name: 'verifyToken', secret: true, parse: text() },
      { name: 'phoneNumberId', secret: false, parse: pattern(/^\d{1,30}$/, 'must be digits') },
    ],
    callbacks: { webhook: 'meta/webhook' },
  },
  mailgun: {
    provider: 'mailgun',
    fields: [{ name: 'signingKey', secret: true, parse: text() }],
    callbacks: { inbound: 'mailgun/inbound', events: 'mailgun/events' },
  },
  postmark: {
    provider: 'postmark',
    fields: [],
    callbacks: { inbound: 'postmark/inbound', events: 'postmark/events' },
    // URL-safe alphabet: both parts travel inside the URL's userinfo unescaped.
    generate: () => ({
      basicAuthUser: `hd_${randomBytes(9).toString('base64url')}`,
      basicAuthPassword: randomBytes(24).toString('base64url'),
    }),
  },
};

/**
 * The callback URLs of a channel. `reveal` embeds what the provider must
 * send back and Hookdesk only shows once (Postmark's basic-auth pair in the
 * userinfo, SendGrid's Inbound Parse token in the query).
 */
export function callbackUrls(
  publicUrl: string,
  type: ChannelType,
  routeKey: string,
  reveal?: Record<string, string>,
): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const [name, path] of Object.entries(CHANNEL_SPECS[type].callbacks)) {
    // Kept as a plain string: Twilio signs the URL exactly as pasted, and the
    // adapters rebuild it from the same HOOKDESK_PUBLIC_URL the same way.
    const base = `${publicUrl}/api/rpc/channels/${routeKey}/${path}`;
    if (reveal?.basicAuthUser && reveal.basicAuthPassword) {
      const url = new URL(base);
      url.username = reveal.basicAuthUser;
      url.password = reveal.basicAuthPassword;
      urls[name] = url.toString();
    } else if (name === 'inbound' && type === 'sendgrid' && reveal?.inboundParseToken) {
      urls[name] = `${base}?token=${encodeURIComponent(reveal.inboundParseToken)}`;
    } else {
      urls[name] = base;
    }
  }
  return urls;
}
