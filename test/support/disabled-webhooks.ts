/**
 * What the suites on a webhook disabled by the worker share (after ten
 * failures, test/delivery-failures.test.ts; after 410 Gone,
 * test/receiver-answers.test.ts): the webhook's row, the admins told, and the
 * job runner that mails them.
 */
import { expect } from 'vitest';
import { jobHandlers } from '../../src/cli/job-handlers.js';
import { JobRunner } from '../../src/jobs/runner.js';
import { createLogger } from '../../src/logger.js';
import { createMailer } from '../../src/mail/mailer.js';
import { WEBHOOK_DISABLED_MAIL_JOB } from '../../src/notifications/webhook-disabled-mail.js';
import type { Harness, Org } from './harness.js';

/** A job runner with every handler a worker process registers, mailing through `smtpUrl`. */
export function jobRunner(h: Harness, smtpUrl: string): JobRunner {
  const logger = createLogger('silent');
  const mailer = createMailer({ smtpUrl, mailFrom: 'Hookdesk <hookdesk@test.localhost>' }, logger);
  const deps = { database: h.database, clock: h.clock, logger, mailer };
  return new JobRunner({ ...deps, handlers: jobHandlers(deps) }, { leaseMs: 60_000 });
}

export function webhookRow(h: Harness, id: string) {
  return h.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** The organization's notifications, every user's. */
export function notificationsOf(h: Harness, organizationId: string) {
  return h.db
    .selectFrom('notifications')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .execute();
}

/** The organization's jobs that mail the admins of a disabled webhook. */
export function disabledMailJobs(h: Harness, organizationId: string) {
  return h.db
    .selectFrom('jobs')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('kind', '=', WEBHOOK_DISABLED_MAIL_JOB)
    .execute();
}

/** A second admin of the organization, by the API; its user id. */
export async function addAdmin(h: Harness, org: Org, email: string): Promise<string> {
  const res = await h.request({
    method: 'POST',
    url: '/api/users',
    key: org.apiKey,
    payload: { email, name: 'Second', role: 'admin' },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

/** An agent of the organization, by the API: told nothing when a webhook is disabled. */
export async function addAgent(h: Harness, org: Org, email: string): Promise<void> {
  await h.request({
    method: 'POST',
    url: '/api/users',
    key: org.apiKey,
    payload: { email, name: 'Agent' },
  });
}

/** The email address of the admin the organization was created with. */
export async function firstAdminEmail(h: Harness, org: Org): Promise<string> {
  const admin = await h.db
    .selectFrom('users')
    .select('email')
    .where('id', '=', org.adminUserId)
    .executeTakeFirstOrThrow();
  return admin.email;
}
