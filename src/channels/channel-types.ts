/**
 * What each channel type takes and answers, said once
 * (docs/providers.md, "Provider channels"): its credential fields (secret or
 * shown in `config`), how each is checked, and the callback URLs it gets. The
 * routes and the provider adapters read this table; nothing else knows a type's
 * fields.
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
  /** What forms call it, and where to find it in the provider's console (served by `GET /api/meta`). */
  readonly label: string;
  readonly help: string;
  /** Secrets are encrypted and never returned; the others are shown in `config`. */
  readonly secret: boolean;
  readonly optional?: boolean;
  /** A long value (a public key): a form gives it several lines. */
  readonly multiline?: boolean;
  /** The value to store, or a problem message (as `{ problem }`). */
  parse(value: string): string | { problem: string };
}

export interface Callback {
  /** The path after `/api/rpc/channels/{routeKey}/`. */
  readonly path: string;
  /** Where the URL goes in the provider's console. */
  readonly where: string;
  /** The secret field the URL carries as `?token=` in the answer that set it. */
  readonly token?: string;
}

export interface ChannelTypeSpec {
  readonly provider: Provider;
  readonly label: string;
  readonly fields: readonly CredentialField[];
  /** By `callbackUrls` key. */
  readonly callbacks: Readonly<Record<string, Callback>>;
  /**
   * Secrets Hookdesk makes up instead of taking them: Postmark's basic-auth
   * pair, which rides in the callback URLs' userinfo.
   */
  generate?(): { basicAuthUser: string; basicAuthPassword: string };
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

const twilio: Omit<ChannelTypeSpec, 'label'> = {
  provider: 'twilio',
  fields: [
    {
      name: 'accountSid',
      label: 'Account SID',
      help: 'AC followed by 32 hex digits (Twilio console → Account info).',
      secret: false,
      parse: pattern(/^AC[0-9a-fA-F]{32}$/, 'must be AC followed by 32 hex digits'),
    },
    {
      name: 'authToken',
      label: 'Auth token',
      help: 'Verifies X-Twilio-Signature. Stored encrypted, never shown again.',
      secret: true,
      parse: text(),
    },
    {
      name: 'phoneNumber',
      label: 'Phone number',
      help: 'The Twilio number, such as +14155550100 (whatsapp:+1… is accepted).',
      secret: false,
      parse: phone,
    },
  ],
  callbacks: {
    inbound: {
      path: 'twilio/inbound',
      where: 'The number’s “A message comes in” webhook (HTTP POST).',
    },
    status: {
      path: 'twilio/status',
      where: 'The status callback URL of the messages you send.',
    },
  },
};

export const CHANNEL_SPECS: Readonly<Record<ChannelType, ChannelTypeSpec>> = {
  twilio_sms: { label: 'Twilio SMS', ...twilio },
  twilio_whatsapp: { label: 'Twilio WhatsApp', ...twilio },
  sendgrid: {
    provider: 'sendgrid',
    label: 'SendGrid',
    fields: [
      {
        name: 'eventWebhookPublicKey',
        label: 'Event Webhook verification key',
        help: 'From Mail Settings → Event Webhook with “Signed Event Webhook Requests” on: base64 as SendGrid shows it (PEM also accepted).',
        secret: false,
        multiline: true,
        parse: ecdsaP256PublicKey,
      },
      {
        name: 'inboundParseToken',
        label: 'Inbound Parse token',
        help: 'Optional, 16 or more characters. Inbound Parse posts must then carry it as ?token=…; the URL with it is shown only once.',
        secret: true,
        optional: true,
        parse: text(16),
      },
    ],
    callbacks: {
      events: {
        path: 'sendgrid/events',
        where: 'Mail Settings → Event Webhook: HTTP POST URL.',
      },
      inbound: {
        path: 'sendgrid/inbound',
        where: 'Inbound Parse: destination URL.',
        token: 'inboundParseToken',
      },
    },
  },
  meta_whatsapp: {
    provider: 'meta',
    label: 'Meta WhatsApp Cloud API',
    fields: [
      {
        name: 'appSecret',
        label: 'App secret',
        help: 'App settings → Basic. Verifies X-Hub-Signature-256. Stored encrypted.',
        secret: true,
        parse: text(),
      },
      {
        name: 'verifyToken',
        label: 'Verify token',
        help: 'Any string you choose; type the same one in Meta’s webhook configuration. Stored encrypted.',
        secret: true,
        parse: text(),
      },
      {
        name: 'phoneNumberId',
        label: 'Phone number ID',
        help: 'Digits, from WhatsApp → API setup. Messages for other numbers are ignored.',
        secret: false,
        parse: pattern(/^\d{1,30}$/, 'must be digits'),
      },
    ],
    callbacks: {
      webhook: {
        path: 'meta/webhook',
        where: 'WhatsApp → Configuration: callback URL (subscribe to “messages”).',
      },
    },
  },
  mailgun: {
    provider: 'mailgun',
    label: 'Mailgun',
    fields: [
      {
        name: 'signingKey',
        label: 'HTTP webhook signing key',
        help: 'Sending → Webhooks → HTTP webhook signing key. Stored encrypted.',
        secret: true,
        parse: text(),
      },
    ],
    callbacks: {
      inbound: {
        path: 'mailgun/inbound',
        where: 'A route whose action is forward("…") with this URL.',
      },
      events: {
        path: 'mailgun/events',
        where: 'Sending → Webhooks (delivered, failures, opened, clicked, accepted).',
      },
    },
  },
  postmark: {
    provider: 'postmark',
    label: 'Postmark',
    fields: [],
    callbacks: {
      inbound: { path: 'postmark/inbound', where: 'The inbound stream’s webhook URL.' },
      events: {
        path: 'postmark/events',
        where: 'The outbound stream’s Delivery, Bounce, Open and Click webhooks.',
      },
    },
    // URL-safe alphabet: both parts travel inside the URL's userinfo unescaped.
    generate: () => ({
      basicAuthUser: `hd_${randomBytes(9).toString('base64url')}`,
      basicAuthPassword: randomBytes(24).toString('base64url'),
    }),
  },
};

/** The boolean in `config` that says whether an optional secret field is set (never its value). */
export function configFlag(field: string): string {
  return `has${field.charAt(0).toUpperCase()}${field.slice(1)}`;
}

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
  for (const [name, callback] of Object.entries(CHANNEL_SPECS[type].callbacks)) {
    // Kept as a plain string: Twilio signs the URL exactly as pasted, and the
    // adapters rebuild it from the same HOOKDESK_PUBLIC_URL the same way.
    const base = `${publicUrl}/api/rpc/channels/${routeKey}/${callback.path}`;
    const token = callback.token === undefined ? undefined : reveal?.[callback.token];
    if (reveal?.basicAuthUser && reveal.basicAuthPassword) {
      const url = new URL(base);
      url.username = reveal.basicAuthUser;
      url.password = reveal.basicAuthPassword;
      urls[name] = url.toString();
    } else if (token) {
      urls[name] = `${base}?token=${encodeURIComponent(token)}`;
    } else {
      urls[name] = base;
    }
  }
  return urls;
}
