/**
 * Job handlers of the email feature, for the JobRunner (src/jobs/runner.ts).
 * The worker process merges this map into its runner's `handlers`.
 */
import type { JobHandler } from '../../jobs/runner.js';
import { sendTicketEmail, type TicketEmailDeps } from '../../mail/send-ticket-email.js';
import { EMAIL_SEND_JOB } from '../../mail/ticket-email.js';

export type EmailJobDeps = TicketEmailDeps;

export function emailJobHandlers(deps: EmailJobDeps): Record<string, JobHandler> {
  return {
    [EMAIL_SEND_JOB]: (payload, job) => sendTicketEmail(deps, payload, job),
  };
}
