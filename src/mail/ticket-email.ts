/**
 * Outbound ticket email, first half: what happens in the transaction that
 * adds an agent's message to an email ticket. The message gets its own
 * Message-ID and the status `queued`, and an `email.send` job is enqueued in
 * the same transaction, so a crash between commit and send loses nothing:
 * the job is still there for the next worker (see send-ticket-email.ts).
 */
import type { Executor, MessagesTable } from '../db/schema.js';
import { bareMessageId, newMessageId } from '../inbound/email/message-ids.js';
import { enqueueJob } from '../jobs/queue.js';

export const EMAIL_SEND_JOB = 'email.send';
/** Attempts of one send before the message is marked `failed`. */
export const EMAIL_SEND_MAX_ATTEMPTS = 8;

export interface EmailSendPayload {
  messageId: string;
}

export const NO_REQUESTER_EMAIL = 'The requester has no email address.';

/** The columns an outbound email message starts with. */
export type OutboundEmailFields = Pick<
  MessagesTable,
  'email_message_id' | 'provider_message_id' | 'delivery_status' | 'delivery_error'
>;

/**
 * A new outbound email's Message-ID and status. Without a requester address
 * there is nobody to send to: the message is recorded as `failed` at once
 * rather than rejected, so the agent's text is kept.
 */
export function outboundEmailFields(
  requesterEmail: string | null,
  domain: string,
): OutboundEmailFields {
  if (requesterEmail === null) {
    return {
      email_message_id: null,
      provider_message_id: null,
      delivery_status: 'failed',
      delivery_error: NO_REQUESTER_EMAIL,
    };
  }
  const emailMessageId = newMessageId(domain);
  return {
    email_message_id: emailMessageId,
    provider_message_id: bareMessageId(emailMessageId),
    delivery_status: 'queued',
    delivery_error: null,
  };
}

/** Enqueues the send of a `queued` message, in the caller's transaction. */
export async function enqueueTicketEmail(
  trx: Executor,
  now: number,
  message: Pick<MessagesTable, 'id' | 'organization_id'>,
): Promise<void> {
  const payload: EmailSendPayload = { messageId: message.id };
  await enqueueJob(trx, now, {
    organizationId: message.organization_id,
    kind: EMAIL_SEND_JOB,
    payload,
    runAt: now,
    key: `email:${message.id}`,
    maxAttempts: EMAIL_SEND_MAX_ATTEMPTS,
  });
}
