/**
 * What the console says about each channel type: its name, the credential
 * fields the API takes (the README's "Provider channels" table), and where
 * each callback URL goes in the provider's console. The API checks the
 * values; this table only labels them.
 */
import type { ChannelType } from './api.js';

export interface CredentialInput {
  /** The key under `credentials` in the API's body. */
  name: string;
  label: string;
  help: string;
  /** Stored encrypted and never returned; the others come back in `config`. */
  secret: boolean;
  optional?: boolean;
  /** A textarea for long values such as a public key. */
  multiline?: boolean;
}

export interface ChannelKind {
  label: string;
  fields: CredentialInput[];
  /** `callbackUrls` key → where to paste it. */
  callbacks: Record<string, string>;
}

const twilioFields: CredentialInput[] = [
  {
    name: 'accountSid',
    label: 'Account SID',
    help: 'AC followed by 32 hex digits (Twilio console → Account info).',
    secret: false,
  },
  {
    name: 'authToken',
    label: 'Auth token',
    help: 'Verifies X-Twilio-Signature. Stored encrypted, never shown again.',
    secret: true,
  },
  {
    name: 'phoneNumber',
    label: 'Phone number',
    help: 'The Twilio number, such as +14155550100 (whatsapp:+1… is accepted).',
    secret: false,
  },
];

const twilioCallbacks = {
  inbound: 'The number’s “A message comes in” webhook (HTTP POST).',
  status: 'The status callback URL of the messages you send.',
};

export const CHANNEL_KINDS: Record<ChannelType, ChannelKind> = {
  twilio_sms: { label: 'Twilio SMS', fields: twilioFields, callbacks: twilioCallbacks },
  twilio_whatsapp: { label: 'Twilio WhatsApp', fields: twilioFields, callbacks: twilioCallbacks },
  sendgrid: {
    label: 'SendGrid',
    fields: [
      {
        name: 'eventWebhookPublicKey',
        label: 'Event Webhook verification key',
        help: 'From Mail Settings → Event Webhook with “Signed Event Webhook Requests” on: base64 as SendGrid shows it (PEM also accepted).',
        secret: false,
        multiline: true,
      },
      {
        name: 'inboundParseToken',
        label: 'Inbound Parse token',
        help: 'Optional, 16 or more characters. Inbound Parse posts must then carry it as ?token=…; the URL with it is shown only once.',
        secret: true,
        optional: true,
      },
    ],
    callbacks: {
      events: 'Mail Settings → Event Webhook: HTTP POST URL.',
      inbound: 'Inbound Parse: destination URL.',
    },
  },
  meta_whatsapp: {
    label: 'Meta WhatsApp Cloud API',
    fields: [
      {
        name: 'appSecret',
        label: 'App secret',
        help: 'App settings → Basic. Verifies X-Hub-Signature-256. Stored encrypted.',
        secret: true,
      },
      {
        name: 'verifyToken',
        label: 'Verify token',
        help: 'Any string you choose; type the same one in Meta’s webhook configuration. Stored encrypted.',
        secret: true,
      },
      {
        name: 'phoneNumberId',
        label: 'Phone number ID',
        help: 'Digits, from WhatsApp → API setup. Messages for other numbers are ignored.',
        secret: false,
      },
    ],
    callbacks: {
      webhook: 'WhatsApp → Configuration: callback URL (subscribe to “messages”).',
    },
  },
  mailgun: {
    label: 'Mailgun',
    fields: [
      {
        name: 'signingKey',
        label: 'HTTP webhook signing key',
        help: 'Sending → Webhooks → HTTP webhook signing key. Stored encrypted.',
        secret: true,
      },
    ],
    callbacks: {
      inbound: 'A route whose action is forward("…") with this URL.',
      events: 'Sending → Webhooks (delivered, failures, opened, clicked, accepted).',
    },
  },
  postmark: {
    label: 'Postmark',
    fields: [],
    callbacks: {
      inbound: 'The inbound stream’s webhook URL.',
      events: 'The outbound stream’s Delivery, Bounce, Open and Click webhooks.',
    },
  },
};

/** A URL carrying a secret (Postmark's basic auth, SendGrid's `?token=`): the API shows it once. */
export function carriesSecret(url: string): boolean {
  try {
    const u = new URL(url);
    return u.username !== '' || u.searchParams.has('token');
  } catch {
    return false;
  }
}
