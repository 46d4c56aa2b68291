/**
 * Every job kind a worker process runs, and its handler: wiring, kept here on
 * top so the job queue (src/jobs/) never imports the features whose jobs it
 * runs. A new job kind is one more line in `jobHandlers`.
 */
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/dialect.js';
import { emailJobHandlers } from '../inbound/email/jobs.js';
import type { Logger } from '../logger.js';
import type { Mailer } from '../mail/mailer.js';
import { webhookDisabledMailHandlers } from '../notifications/webhook-disabled-mail.js';
import { SLA_TIMER_KIND, slaTimerHandler } from '../sla/timers.js';
import type { JobHandler } from '../jobs/runner.js';
import { recoveryJobHandlers } from '../webhooks/recover.js';

export interface JobDeps {
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  mailer: Mailer;
}

export function jobHandlers(deps: JobDeps): Record<string, JobHandler> {
  return {
    [SLA_TIMER_KIND]: slaTimerHandler(deps.database.db, deps.clock),
    ...emailJobHandlers(deps),
    ...webhookDisabledMailHandlers(deps),
    ...recoveryJobHandlers(deps),
  };
}
