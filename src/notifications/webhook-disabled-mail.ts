/**
 * The email telling each admin that a webhook was disabled, after its failure
 * streak or because its receiver answered `410 Gone`, and the words of the
 * notification that goes with it. The transaction that disables the webhook
 * (and writes the admins' notifications) enqueues one job per admin, so the
 * mail commits with the decision and is retried with backoff if the SMTP
 * server is away; the delivery worker itself never waits on mail.
 */
import type { Executor } from '../db/schema.js';
import type { DisableReason } from '../delivery/policy.js';
import { enqueueJobs } from '../jobs/queue.js';
import type { JobContext, JobHandler } from '../jobs/runner.js';
import type { Logger } from '../logger.js';
import type { Mailer } from '../mail/mailer.js';

export const WEBHOOK_DISABLED_MAIL_JOB = 'email.webhook_disabled';

/** Why the webhook was disabled, with what the words for it need. */
export type DisableCause =
  | {
      reason: Extract<DisableReason, 'consecutive_failures'>;
      /** Failed deliveries in a row that disabled it. */
      failures: number;
    }
  | { reason: Extract<DisableReason, 'gone'> };

export type DisabledNotice = DisableCause & {
  webhookId: string;
  organizationId: string;
  name: string;
  url: string;
  /** The last attempt's failure, as the notification states it. */
  lastError: string;
  recipients: readonly { email: string }[];
};

type Payload = DisableCause & {
  to: string;
  webhookId: string;
  name: string;
  url: string;
  lastError: string;
};

type Described = DisableCause & { name: string; url: string; lastError: string };

/** The admins' notification (title and body) for a disabled webhook. */
export function webhookDisabledNotification(n: Described): { title: string; body: string } {
  const title = `Webhook "${n.name}" was disabled`;
  if (n.reason === 'gone') {
    return {
      title,
      body: `${n.url} answered 410 Gone: the receiver says the endpoint no longer exists, so the webhook was disabled and its pending deliveries cancelled. Set it active again to resume.`,
    };
  }
  return {
    title,
    body: `After ${n.failures} consecutive failed deliveries to ${n.url}, the webhook was disabled and its pending deliveries cancelled. Last error: ${n.lastError}. Set it active again to resume.`,
  };
}

/** Enqueues the mail to every recipient, inside the transaction that disabled the webhook. */
export async function enqueueWebhookDisabledMail(
  trx: Executor,
  now: number,
  notice: DisabledNotice,
): Promise<void> {
  const { recipients, organizationId, ...rest } = notice;
  await enqueueJobs(
    trx,
    now,
    recipients.map((r) => ({
      organizationId,
      kind: WEBHOOK_DISABLED_MAIL_JOB,
      payload: { to: r.email, ...rest } satisfies Payload,
      runAt: now,
    })),
  );
}

export function webhookDisabledMail(p: Payload): { to: string; subject: string; text: string } {
  const why =
    p.reason === 'gone'
      ? `Your webhook "${p.name}" was disabled because its endpoint answered 410 Gone: the receiver says it no longer exists.`
      : `Your webhook "${p.name}" was disabled after ${p.failures} consecutive failed deliveries.`;
  return {
    to: p.to,
    subject: `[Hookdesk] Webhook "${p.name}" was disabled`,
    text: [
      why,
      '',
      `URL: ${p.url}`,
      `Last error: ${p.lastError}`,
      '',
      p.reason === 'gone'
        ? 'Its pending deliveries were cancelled. If the endpoint is back, or at a new URL, set the webhook active again to resume.'
        : 'Its pending deliveries were cancelled. Fix the endpoint, then set the webhook active again to resume.',
    ].join('\n'),
  };
}

function payloadOf(payload: unknown): Payload {
  const p = payload as Partial<Record<string, unknown>> | null;
  const fields = ['to', 'webhookId', 'name', 'url', 'lastError'] as const;
  if (typeof p !== 'object' || p === null || fields.some((f) => typeof p[f] !== 'string'))
    throw new Error(`malformed ${WEBHOOK_DISABLED_MAIL_JOB} payload`);
  // Jobs enqueued before disabling had more than one reason carry none: the streak.
  const reason = p.reason ?? 'consecutive_failures';
  if (reason === 'gone') return { ...p, reason } as Payload;
  if (reason === 'consecutive_failures' && typeof p.failures === 'number')
    return { ...p, reason } as Payload;
  throw new Error(`malformed ${WEBHOOK_DISABLED_MAIL_JOB} payload`);
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
