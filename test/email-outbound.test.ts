/**
 * Sending ticket email through the durable job queue: nothing is lost to a
 * crash between commit and send, transient SMTP failures are retried with
 * backoff, permanent ones and missing configuration end in `failed`.
 */
import { createServer, type AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { claimDueJobs, jobBackoffMs } from '../src/jobs/queue.js';
import { SMTP_NOT_CONFIGURED } from '../src/mail/send-ticket-email.js';
import { NO_REQUESTER_EMAIL } from '../src/mail/ticket-email.js';
import { forEachDialect } from './support/harness.js';
import { MailCatcher } from './support/smtp.js';
import {
  drain,
  emailJobsOf,
  emailRunner,
  emailTicket,
  messageRow,
  reply,
} from './support/email.js';

/** An SMTP URL where nothing listens: connecting fails at once. */
async function deadSmtpUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `smtp://127.0.0.1:${port}`;
}

forEachDialect('ticket email sending', (h) => {
  const catcher = new MailCatcher();
  const rejecting = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo: (_address, _session, callback) =>
      callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 })),
  });
  let rejectingUrl = '';
  beforeAll(async () => {
    await catcher.start();
    await new Promise<void>((resolve) => rejecting.listen(0, '127.0.0.1', resolve));
    rejectingUrl = `smtp://127.0.0.1:${(rejecting.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await catcher.close();
    await new Promise<void>((resolve) => rejecting.close(() => resolve()));
  });
  const mailsTo = (email: string) => catcher.mails.filter((m) => m.to.includes(email));

  it('enqueues the send with the message, and a later runner sends it after a crash', async () => {
    const org = await h.createOrg();
    const ticket = await emailTicket(h, org, 'Crash', 'crash@example.com');
    const message = await reply(h, org, ticket.id);
    // Committed, not yet sent: the job is in the database, not in a process.
    const [job] = await emailJobsOf(h, org.organizationId);
    expect(job).toMatchObject({ status: 'pending', key: `email:${message.id}`, max_attempts: 8 });
    expect(JSON.parse(job!.payload)).toEqual({ messageId: message.id });
    expect(mailsTo('crash@example.com')).toHaveLength(0);

    // A worker claims it and dies before sending: its lease must run out first.
    const claimed = await claimDueJobs(h.db, {
      owner: 'dead-worker',
      now: h.clock.now(),
      leaseMs: 60_000,
      limit: 100,
    });
    expect(claimed.map((j) => j.id)).toContain(job!.id);
    const runner = emailRunner(h, catcher.url);
    await drain(runner);
    expect(mailsTo('crash@example.com')).toHaveLength(0);
    h.clock.advance(60_000);
    await drain(runner);
    expect(mailsTo('crash@example.com')).toHaveLength(1);
    expect((await messageRow(h, message.id)).delivery_status).toBe('sent');
    expect((await emailJobsOf(h, org.organizationId))[0]).toMatchObject({ status: 'succeeded' });
  });

  it('retries a send that failed to connect, after the backoff', async () => {
    const org = await h.createOrg();
    const ticket = await emailTicket(h, org, 'Flaky', 'flaky@example.com');
    const message = await reply(h, org, ticket.id);
    await drain(emailRunner(h, await deadSmtpUrl()));
    let [job] = await emailJobsOf(h, org.organizationId);
    expect(job).toMatchObject({ status: 'pending', attempt_count: 1 });
    expect(job!.last_error).toBeTruthy();
    expect(job!.run_at).toBe(h.clock.now() + jobBackoffMs(1));
    expect((await messageRow(h, message.id)).delivery_status).toBe('queued');

    const runner = emailRunner(h, catcher.url);
    await drain(runner);
    expect(mailsTo('flaky@example.com')).toHaveLength(0);
    h.clock.advance(jobBackoffMs(1));
    await drain(runner);
    expect(mailsTo('flaky@example.com')).toHaveLength(1);
    [job] = await emailJobsOf(h, org.organizationId);
    expect(job).toMatchObject({ status: 'succeeded', attempt_count: 2 });
    expect((await messageRow(h, message.id)).delivery_status).toBe('sent');
  });

  it('marks the message failed when its last attempt fails', async () => {
    const org = await h.createOrg();
    const ticket = await emailTicket(h, org, 'Last', 'last@example.com');
    const message = await reply(h, org, ticket.id);
    await h.db
      .updateTable('jobs')
      .set({ attempt_count: 7 })
      .where('key', '=', `email:${message.id}`)
      .execute();
    await drain(emailRunner(h, await deadSmtpUrl()));
    expect((await emailJobsOf(h, org.organizationId))[0]).toMatchObject({ status: 'failed' });
    const row = await messageRow(h, message.id);
    expect(row.delivery_status).toBe('failed');
    expect(row.delivery_error).toBeTruthy();
  });

  it('does not retry a permanent SMTP rejection (5xx)', async () => {
    const org = await h.createOrg();
    const ticket = await emailTicket(h, org, 'Rejected', 'nobody@example.com');
    const message = await reply(h, org, ticket.id);
    await drain(emailRunner(h, rejectingUrl));
    const row = await messageRow(h, message.id);
    expect(row.delivery_status).toBe('failed');
    expect(row.delivery_error).toMatch(/550|mailbox unavailable/);
    expect((await emailJobsOf(h, org.organizationId))[0]).toMatchObject({
      status: 'succeeded',
      attempt_count: 1,
    });
  });

  it('marks the message failed when no SMTP server is configured', async () => {
    const org = await h.createOrg();
    const ticket = await emailTicket(h, org, 'Unconfigured', 'logged@example.com');
    const message = await reply(h, org, ticket.id);
    await drain(emailRunner(h));
    expect(await messageRow(h, message.id)).toMatchObject({
      delivery_status: 'failed',
      delivery_error: SMTP_NOT_CONFIGURED,
    });
  });

  it('never sends twice, even when the job runs again after the send was recorded', async () => {
    const org = await h.createOrg();
    const ticket = await emailTicket(h, org, 'Once', 'once@example.com');
    const message = await reply(h, org, ticket.id);
    const runner = emailRunner(h, catcher.url);
    await drain(runner);
    await h.db
      .updateTable('jobs')
      .set({ status: 'pending', run_at: h.clock.now() })
      .where('key', '=', `email:${message.id}`)
      .execute();
    await drain(runner);
    expect(mailsTo('once@example.com')).toHaveLength(1);
  });

  it('sends nothing for other channels, inbound notes, or a requester without email', async () => {
    const org = await h.createOrg();
    const api = (url: string, payload: object) =>
      h.request({ method: 'POST', url, key: org.apiKey, payload });
    const smsTicket = (
      await api('/api/tickets', { subject: 'SMS', requester: { phone: '+15550100' } })
    ).json();
    const sms = (await api(`/api/tickets/${smsTicket.id}/messages`, { body: 'Hi' })).json();
    expect(sms).toMatchObject({ deliveryStatus: null, emailMessageId: null });

    const ticket = await emailTicket(h, org, 'Notes', 'notes@example.com');
    const note = await api(`/api/tickets/${ticket.id}/messages`, {
      body: 'Customer called',
      direction: 'inbound',
    });
    expect(note.json()).toMatchObject({ deliveryStatus: null, emailMessageId: null });

    const phoneOnly = (
      await api('/api/tickets', {
        subject: 'No address',
        requester: { phone: '+15550101' },
        channel: 'email',
      })
    ).json();
    const failed = (await api(`/api/tickets/${phoneOnly.id}/messages`, { body: 'Hello?' })).json();
    expect(failed).toMatchObject({
      deliveryStatus: 'failed',
      deliveryError: NO_REQUESTER_EMAIL,
      emailMessageId: null,
    });
    expect(await emailJobsOf(h, org.organizationId)).toEqual([]);
  });
});
