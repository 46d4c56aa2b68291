/** Shortcuts for the email suites: the public endpoints, email tickets and the email job runner. */
import { simpleParser, type ParsedMail } from 'mailparser';
import { expect } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { emailJobHandlers } from '../../src/inbound/email/jobs.js';
import { JobRunner } from '../../src/jobs/runner.js';
import { createMailer } from '../../src/mail/mailer.js';
import type { Harness, Org } from './harness.js';

export const INBOUND_URL = '/api/rpc/tickets/email/inbound';
export const STATUS_URL = '/api/rpc/tickets/email/delivery-status';
export const MAIL_FROM = 'Support <support@hookdesk.test>';

/** A JobRunner with only the email handlers, mailing through `smtpUrl` (logged when unset). */
export function emailRunner(h: Harness, smtpUrl?: string): JobRunner {
  const logger = createLogger('silent');
  const mailer = createMailer({ smtpUrl, mailFrom: MAIL_FROM }, logger);
  const deps = { database: h.database, clock: h.clock, logger, mailer };
  return new JobRunner({ ...deps, handlers: emailJobHandlers(deps) }, { leaseMs: 60_000 });
}

/**
 * Runs passes until nothing due is left. Other suites' job kinds (SLA
 * timers) may share the queue, so one pass is not assumed to reach ours.
 */
export async function drain(runner: JobRunner): Promise<void> {
  for (let i = 0; i < 20; i += 1) if ((await runner.runOnce()) === 0) return;
}

export interface PostOptions {
  token?: string;
  query?: string;
  remoteAddress?: string;
  headers?: Record<string, string>;
}

function send(h: Harness, url: string, payload: unknown, o: PostOptions) {
  return h.request({
    method: 'POST',
    url: url + (o.query ?? ''),
    headers: {
      'content-type': 'application/json',
      ...(o.token ? { 'x-hookdesk-inbound-token': o.token } : {}),
      ...o.headers,
    },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    ...(o.remoteAddress ? { remoteAddress: o.remoteAddress } : {}),
  });
}

export const postInbound = (h: Harness, body: unknown, o: PostOptions = {}) =>
  send(h, INBOUND_URL, body, o);
export const postStatus = (h: Harness, body: unknown, o: PostOptions = {}) =>
  send(h, STATUS_URL, body, o);

/** An inbound email of the organization with sensible defaults. */
export function inbound(org: Org, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    organizationId: org.organizationId,
    from: 'Pat Doe <pat@example.com>',
    to: 'support@acme.test',
    subject: 'Printer on fire',
    text: 'It is still burning.',
    ...extra,
  };
}

export async function emailTicket(
  h: Harness,
  org: Org,
  subject = 'Printer on fire',
  email = 'pat@example.com',
): Promise<{ id: string } & Record<string, any>> {
  const res = await h.request({
    method: 'POST',
    url: '/api/tickets',
    key: org.apiKey,
    payload: { subject, requester: { email }, channel: 'email' },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

export async function reply(
  h: Harness,
  org: Org,
  ticketId: string,
  body = 'We are on it.',
): Promise<Record<string, any>> {
  const res = await h.request({
    method: 'POST',
    url: `/api/tickets/${ticketId}/messages`,
    key: org.apiKey,
    payload: { body },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

export async function messagesOf(
  h: Harness,
  org: Org,
  ticketId: string,
): Promise<Record<string, any>[]> {
  const res = await h.request({
    method: 'GET',
    url: `/api/tickets/${ticketId}/messages`,
    key: org.apiKey,
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().data;
}

export async function messageRow(h: Harness, id: string) {
  return h.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

export async function emailJobsOf(h: Harness, organizationId: string) {
  return h.db
    .selectFrom('jobs')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('kind', '=', 'email.send')
    .orderBy('id')
    .execute();
}

/** Row counts that a rejected request must leave unchanged. */
export async function counts(h: Harness) {
  const count = async (table: 'tickets' | 'messages' | 'contacts' | 'events' | 'jobs') =>
    Number(
      (
        await h.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    tickets: await count('tickets'),
    messages: await count('messages'),
    contacts: await count('contacts'),
    events: await count('events'),
    jobs: await count('jobs'),
  };
}

export function parseMail(raw: string): Promise<ParsedMail> {
  return simpleParser(raw);
}

export async function setOrganization(h: Harness, org: Org, body: Record<string, unknown>) {
  const res = await h.request({
    method: 'PATCH',
    url: '/api/organization',
    key: org.apiKey,
    payload: body,
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}
