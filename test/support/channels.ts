/** Shortcuts for channel and provider-callback tests, through the real API. */
import { expect } from 'vitest';
import type { Harness, Org } from './harness.js';

/** A fixed 32-byte key (hex), so every suite encrypts channel credentials. */
export const TEST_ENCRYPTION_KEY = '5f'.repeat(32);
export const PUBLIC_URL = 'https://hooks.example.test';

/** Env for `forEachDialect`: a key and a public URL like a deployment behind a proxy. */
export const CHANNEL_ENV = {
  HOOKDESK_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
  HOOKDESK_PUBLIC_URL: PUBLIC_URL,
};

/** A Twilio SMS channel's create body, with credentials shaped as Twilio's are. */
export const TWILIO_SMS = {
  type: 'twilio_sms',
  name: 'Support SMS',
  credentials: {
    accountSid: `AC${'1f'.repeat(16)}`,
    authToken: 'twilio-auth-token-secret-0001',
    phoneNumber: '+1 (415) 555-0100',
  },
};

export interface ChannelAnswer {
  id: string;
  type: string;
  name: string;
  config: Record<string, unknown>;
  callbackUrls: Record<string, string>;
  createdAt: string;
}

export async function createChannel(
  h: Harness,
  org: Org,
  body: Record<string, unknown>,
): Promise<ChannelAnswer> {
  const res = await h.request({
    method: 'POST',
    url: '/api/channels',
    key: org.apiKey,
    payload: { name: 'channel', ...body },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

/** The path and query of a callback URL, for `inject()`. */
export function pathOf(url: string): string {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
}

/** Row counts of what provider callbacks write, to prove "stored once" and "nothing stored". */
export async function counts(h: Harness, organizationId: string) {
  const count = async (table: 'messages' | 'tickets' | 'provider_events' | 'events') => {
    const row = await h.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('organization_id', '=', organizationId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  return {
    messages: await count('messages'),
    tickets: await count('tickets'),
    providerEvents: await count('provider_events'),
    events: await count('events'),
  };
}

/** An outbound message with a provider id and a status, as a sender would have left it. */
export async function outboundMessage(
  h: Harness,
  org: Org,
  providerMessageId: string,
  status = 'queued',
): Promise<string> {
  const ticket = await h.request({
    method: 'POST',
    url: '/api/tickets',
    key: org.apiKey,
    payload: {
      subject: 'Outbound',
      requester: { email: `out-${providerMessageId.replace(/[^a-z0-9]/gi, '-')}@example.com` },
    },
  });
  expect(ticket.statusCode, ticket.body).toBe(201);
  const message = await h.request({
    method: 'POST',
    url: `/api/tickets/${ticket.json().id}/messages`,
    key: org.apiKey,
    payload: { body: 'Hello from support' },
  });
  expect(message.statusCode, message.body).toBe(201);
  const id = message.json().id as string;
  await h.db
    .updateTable('messages')
    .set({ provider_message_id: providerMessageId, delivery_status: status })
    .where('id', '=', id)
    .execute();
  return id;
}

export async function deliveryStatusOf(h: Harness, messageId: string) {
  return h.db
    .selectFrom('messages')
    .select(['delivery_status', 'delivery_error'])
    .where('id', '=', messageId)
    .executeTakeFirstOrThrow();
}

export interface FilePartInput {
  field: string;
  filename: string;
  type: string;
  content: string;
}

/** A multipart/form-data body as providers post it (SendGrid Inbound Parse, Mailgun routes). */
export function multipart(
  fields: Record<string, string>,
  files: FilePartInput[] = [],
): { payload: string; headers: Record<string, string> } {
  const boundary = 'xYzZY-hookdesk-test-boundary';
  let payload = '';
  for (const [name, value] of Object.entries(fields)) {
    payload += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  }
  for (const f of files) {
    payload +=
      `--${boundary}\r\nContent-Disposition: form-data; name="${f.field}"; filename="${f.filename}"\r\n` +
      `Content-Type: ${f.type}\r\n\r\n${f.content}\r\n`;
  }
  payload += `--${boundary}--\r\n`;
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

/** Ticket and message of the inbound email with this Message-ID, as stored. */
export async function inboundEmail(h: Harness, organizationId: string, emailMessageId: string) {
  return h.db
    .selectFrom('messages')
    .innerJoin('tickets', 'tickets.id', 'messages.ticket_id')
    .innerJoin('contacts', 'contacts.id', 'messages.contact_id')
    .select([
      'messages.ticket_id',
      'messages.body',
      'messages.body_html',
      'messages.channel',
      'messages.attachments',
      'tickets.subject',
      'contacts.email',
      'contacts.name',
    ])
    .where('messages.organization_id', '=', organizationId)
    .where('messages.email_message_id', '=', emailMessageId)
    .executeTakeFirst();
}
