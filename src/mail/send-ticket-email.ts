/**
 * Outbound ticket email, second half: the `email.send` job. It mails the
 * message to the ticket's requester with the message's stored Message-ID,
 * `In-Reply-To` the thread's latest earlier Message-ID and `References` the
 * earlier ones in order, so mail clients thread the conversation and replies
 * find their way back to the ticket (inbound/email/receive.ts).
 *
 * A transient failure throws, and the job runner retries with backoff. A
 * permanent SMTP rejection (5xx), or the last attempt failing, marks the
 * message `failed`. A message no longer `queued` is not sent again, so a
 * job that ran after its send was already recorded sends nothing.
 */
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/dialect.js';
import type { Executor } from '../db/schema.js';
import { toError } from '../errors.js';
import { setMessageDeliveryStatus } from '../inbound/email/status.js';
import type { JobContext } from '../jobs/runner.js';
import type { Logger } from '../logger.js';
import { findTicket } from '../tickets/tickets.repository.js';
import type { Mailer } from './mailer.js';
import { EMAIL_SEND_MAX_ATTEMPTS, NO_REQUESTER_EMAIL } from './ticket-email.js';

export interface TicketEmailDeps {
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  mailer: Mailer;
}

/** Longest `References` list sent: the thread's first id and its latest ones (RFC 5322 §3.6.4 allows trimming). */
const MAX_REFERENCES = 50;

export const SMTP_NOT_CONFIGURED = 'HOOKDESK_SMTP_URL is not set: the email was logged, not sent.';

function replySubject(subject: string): string {
  return /^re:/i.test(subject.trim()) ? subject : `Re: ${subject}`;
}

function trimReferences(ids: readonly string[]): string[] {
  if (ids.length <= MAX_REFERENCES) return [...ids];
  return [ids[0]!, ...ids.slice(ids.length - (MAX_REFERENCES - 1))];
}

/** The Message-IDs of the ticket's email before `beforeId`, oldest first. */
async function threadIds(
  db: Executor,
  organizationId: string,
  ticketId: string,
  beforeId: string,
): Promise<string[]> {
  const rows = await db
    .selectFrom('messages')
    .select('email_message_id')
    .where('organization_id', '=', organizationId)
    .where('ticket_id', '=', ticketId)
    .where('email_message_id', 'is not', null)
    .where('id', '<', beforeId)
    .orderBy('id', 'asc')
    .execute();
  return rows.map((r) => r.email_message_id!);
}

function messageIdOf(payload: unknown): string | null {
  if (typeof payload !== 'object' || payload === null) return null;
  const id = (payload as { messageId?: unknown }).messageId;
  return typeof id === 'string' ? id : null;
}

/** An SMTP reply code of 5xx means the server will never accept this mail. */
function isPermanent(error: unknown): boolean {
  const code = (error as { responseCode?: unknown } | null)?.responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

export async function sendTicketEmail(
  deps: TicketEmailDeps,
  payload: unknown,
  job: JobContext,
): Promise<void> {
  const { clock, mailer } = deps;
  const { db } = deps.database;
  const log = deps.logger.child({ jobId: job.id, attempt: job.attempt });
  const messageId = messageIdOf(payload);
  if (messageId === null) {
    log.error({ payload }, 'email.send job without a messageId; dropped');
    return;
  }
  const message = await db
    .selectFrom('messages')
    .selectAll()
    .where('organization_id', '=', job.organizationId)
    .where('id', '=', messageId)
    .executeTakeFirst();
  // Deleted with its ticket, already sent, or already past sending: nothing to do.
  if (!message || message.delivery_status !== 'queued' || message.email_message_id === null) return;
  const ticket = await findTicket(db, message.organization_id, message.ticket_id);
  if (!ticket) return;
  if (ticket.contact_email === null) {
    await setMessageDeliveryStatus(db, clock, message.id, 'failed', NO_REQUESTER_EMAIL);
    return;
  }

  const references = trimReferences(
    await threadIds(db, message.organization_id, ticket.id, message.id),
  );
  const inReplyTo = references.at(-1);
  let accepted: string | null;
  try {
    accepted = await mailer.send({
      to: ticket.contact_email,
      subject: inReplyTo ? replySubject(ticket.subject) : ticket.subject,
      text: message.body,
      ...(message.body_html !== null ? { html: message.body_html } : {}),
      messageId: message.email_message_id,
      ...(inReplyTo ? { inReplyTo, references } : {}),
    });
  } catch (error) {
    const err = toError(error);
    const permanent = isPermanent(error);
    if (permanent || job.attempt >= EMAIL_SEND_MAX_ATTEMPTS) {
      await setMessageDeliveryStatus(db, clock, message.id, 'failed', err.message);
      log.warn({ err, messageId: message.id }, 'ticket email failed for good');
      if (permanent) return;
    }
    throw err;
  }
  if (accepted === null) {
    await setMessageDeliveryStatus(db, clock, message.id, 'failed', SMTP_NOT_CONFIGURED);
    return;
  }
  await setMessageDeliveryStatus(db, clock, message.id, 'sent');
  log.info({ messageId: message.id }, 'ticket email sent');
}
