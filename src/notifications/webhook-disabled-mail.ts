/**
 * The email telling each admin that a webhook was disabled after its failure
 * streak. The transaction that disables the webhook (and writes the admins'
 * notifications) enqueues one job per admin, so the mail commits with the
 * decision and is retried with backoff if the SMTP server is away; the
 * delivery worker itself never waits on mail.
 */
import type { Executor } from '../db/schema.js';
import { enqueueJobs } from '../jobs/queue.js';
import type { JobContext, JobHandler } from '../jobs/runner.js';
import type { Logger } from '../logger.js';
import type { Mailer } from '../mail/mailer.js';

export const WEBHOOK_DISABLED_MAIL_JOB = 'email.webhook_disabled';

export interface DisabledNotice {
  webhookId: string;
  organizationId: string;
  name: string;
  url: string;
  /** The last attempt's failure, as the notification states it. */
  lastError: string;
  /** Failed deliveries in a row that disabled it. */
  failures: number;
  recipients: readonly { email: string }[];
}

interface Payload {
  to: string;
  webhookId: string;
  name: string;
  url: string;
  lastError: string;
  failures: number;
}

/** Enqueues the mail to every recipient, inside the transaction that disabled the webhook. */
export async function enqueueWebhookDisabledMail(
  trx: Executor,
  now: number,
  notice: DisabledNotice,
): Promise<void> {
  const { webhookId, name, url, lastError, failures } = notice;
  await enqueueJobs(
    trx,
    now,
    notice.recipients.map((r) => ({
      organizationId: notice.organizationId,
      kind: WEBHOOK_DISABLED_MAIL_JOB,
      payload: { to: r.email, webhookId, name, url, lastError, failures } satisfies Payload,
      runAt: now,
    })),
  );
}

export function webhookDisabledMail(p: Payload): { to: string; subject: string; text: string } {
  return {
    to: p.to,
    subject: `[Hookdesk] Webhook "${p.name}" was disabled`,
    text: [
      `Your webhook "${p.name}" was disabled after ${p.failures} consecutive failed deliveries.`,
      '',
      `URL: ${p.url}`,
      `Last error: ${p.lastError}`,
      '',
      'Its pending deliveries were cancelled. Fix the endpoint, then set the webhook active again to resume.',
    ].join('\n'),
  };
}

function payloadOf(payload: unknown): Payload {
  const p = payload as Partial<Record<keyof Payload, unknown>> | null;
  const fields = ['to', 'webhookId', 'name', 'url', 'lastError'] as const;
  if (
    typeof p !== 'object' ||
    p === null ||
    fields.some((f) => typeof p[f] !== 'string') ||
    typeof p.failures !== 'number'
  )
    throw new Error(`malformed ${WEBHOOK_DISABLED_MAIL_JOB} payload`);
  return p as Payload;
}

/** An SMTP reply code of 5xx means the server will never accept this mail. */
function isPermanent(error: unknown): boolean {
  const code = (error as { responseCode?: unknown } | null)?.responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

/** Sends one admin's mail. A transient failure throws, and the job runner retries with backoff. */
export function webhookDisabledMailHandlers(deps: {
  mailer: Mailer;
  logger: Logger;
}): Record<string, JobHandler> {
  const send = async (payload: unknown, job: JobContext) => {
    const p = payloadOf(payload);
    try {
      await deps.mailer.send(webhookDisabledMail(p));
    } catch (error) {
      deps.logger.error(
        { err: error, webhookId: p.webhookId, jobId: job.id, attempt: job.attempt },
        'could not email a webhook-disabled notice',
      );
      // A refusal never turns into acceptance: no retries.
      if (!isPermanent(error)) throw error;
    }
  };
  return { [WEBHOOK_DISABLED_MAIL_JOB]: send };
}
