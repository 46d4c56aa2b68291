/**
 * The email loop end to end: an agent's reply is mailed through a real SMTP
 * server with a threading Message-ID, the customer's answer comes back
 * through the inbound endpoint and joins the ticket, a subscribed webhook
 * hears about it, and provider delivery callbacks never move a status back.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { forEachDialect } from './support/harness.js';
import { CA_FILE, useReceiver } from './support/receiver.js';
import { MailCatcher } from './support/smtp.js';
import { createWebhook } from './support/webhooks.js';
import { testWorker } from './support/worker.js';
import {
  MAIL_FROM,
  drain,
  emailRunner,
  emailTicket,
  inbound,
  messagesOf,
  parseMail,
  postInbound,
  postStatus,
  reply,
} from './support/email.js';

const ENV = {
  HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
  HOOKDESK_EGRESS_CA_FILE: CA_FILE,
  HOOKDESK_PUBLIC_URL: 'https://desk.acme.test',
};

forEachDialect(
  'email loop',
  (h) => {
    const receiver = useReceiver();
    const catcher = new MailCatcher();
    beforeAll(async () => void (await catcher.start()));
    afterAll(() => catcher.close());

    /** The mails caught since `from`, parsed. */
    const caughtSince = (from: number) =>
      Promise.all(catcher.mails.slice(from).map((m) => parseMail(m.raw)));

    it('mails a reply, threads the answer back into the ticket and tells the webhook', async () => {
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/loop'),
        events: ['message.created'],
      });
      const ticket = await emailTicket(h, org, 'Printer on fire', 'pat@example.com');
      const first = await reply(h, org, ticket.id, 'We are on it.');
      expect(first).toMatchObject({ deliveryStatus: 'queued', channel: 'email' });
      expect(first.emailMessageId).toMatch(/^<[0-9a-f-]{36}@desk\.acme\.test>$/);
      expect(first.providerMessageId).toBe(first.emailMessageId.slice(1, -1));

      const mark = catcher.mails.length;
      await drain(emailRunner(h, catcher.url));
      const [mail] = await caughtSince(mark);
      expect(catcher.mails.slice(mark).map((m) => m.to)).toEqual([['pat@example.com']]);
      expect(mail!.messageId).toBe(first.emailMessageId);
      expect(mail!.inReplyTo).toBeUndefined();
      expect(mail!.references).toBeUndefined();
      expect(mail!.subject).toBe('Printer on fire');
      expect(mail!.from?.text).toBe(MAIL_FROM.replace('Support', '"Support"'));
      expect(mail!.text?.trim()).toBe('We are on it.');
      expect((await messagesOf(h, org, ticket.id))[0]!.deliveryStatus).toBe('sent');

      const answer = await postInbound(
        h,
        inbound(org, {
          subject: 'Re: Printer on fire',
          messageId: '<answer-1@mail.example.com>',
          inReplyTo: first.emailMessageId,
          references: first.emailMessageId,
          text: 'Thanks, that did it!\n\nOn Thu, Jan 15, 2026 at 10:30 AM Support <support@hookdesk.test> wrote:\n> We are on it.\n',
        }),
      );
      expect(answer.statusCode, answer.body).toBe(200);
      const answered = answer.json();
      expect(answered).toEqual({
        success: true,
        ticketId: ticket.id,
        messageId: expect.any(String),
      });
      const thread = await messagesOf(h, org, ticket.id);
      expect(thread.map((m) => m.direction)).toEqual(['outbound', 'inbound']);
      expect(thread[1]).toMatchObject({
        id: answered.messageId,
        channel: 'email',
        body: 'Thanks, that did it!',
        contactId: ticket.requester.contactId,
        emailMessageId: '<answer-1@mail.example.com>',
        providerMessageId: 'answer-1@mail.example.com',
      });
      expect(thread[1]!.bodyFull).toContain('> We are on it.');

      // The next reply continues the thread: In-Reply-To the answer, References the whole chain.
      const second = await reply(h, org, ticket.id, 'Glad to hear it.');
      const mark2 = catcher.mails.length;
      await drain(emailRunner(h, catcher.url));
      const [followUp] = await caughtSince(mark2);
      expect(followUp!.messageId).toBe(second.emailMessageId);
      expect(followUp!.inReplyTo).toBe('<answer-1@mail.example.com>');
      expect(followUp!.references).toEqual([first.emailMessageId, '<answer-1@mail.example.com>']);
      expect(followUp!.subject).toBe('Re: Printer on fire');

      await testWorker(h).runOnce();
      const delivered = receiver.received
        .filter((r) => r.path === '/loop')
        .map((r) => JSON.parse(r.body.toString('utf8')));
      const inboundEvent = delivered.find((b) => b.data.message.id === answered.messageId);
      expect(inboundEvent).toMatchObject({
        eventType: 'message.created',
        organizationId: org.organizationId,
        data: { ticket: { id: ticket.id }, message: { direction: 'inbound' } },
      });
      expect(hook.id).toBeDefined();

      // Provider callbacks: delivered, then a late `sent`, leaves delivered.
      for (const event of ['delivered', 'sent']) {
        const res = await postStatus(h, { providerMessageId: first.providerMessageId, event });
        expect(res.statusCode).toBe(200);
        expect(res.json()).toEqual({ success: true });
      }
      expect((await messagesOf(h, org, ticket.id))[0]!.deliveryStatus).toBe('delivered');
    });

    it('matches on references alone, newest known id first', async () => {
      const org = await h.createOrg();
      const ticket = await emailTicket(h, org, 'Toner');
      const first = await reply(h, org, ticket.id);
      const other = await emailTicket(h, org, 'Other');
      const otherReply = await reply(h, org, other.id);
      await drain(emailRunner(h, catcher.url));
      const res = await postInbound(
        h,
        inbound(org, {
          messageId: 'refs-only@mail.example.com',
          references: `<unknown@nowhere.test> ${otherReply.emailMessageId} ${first.emailMessageId}`,
        }),
      );
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().ticketId).toBe(ticket.id);
      // An unknown In-Reply-To does not stop References from matching.
      const res2 = await postInbound(
        h,
        inbound(org, {
          inReplyTo: '<lost@nowhere.test>',
          references: first.emailMessageId.slice(1, -1),
        }),
      );
      expect(res2.json().ticketId).toBe(ticket.id);
      expect((await messagesOf(h, org, ticket.id)).map((m) => m.direction)).toEqual([
        'outbound',
        'inbound',
        'inbound',
      ]);
    });

    it('keeps bounced against a late delivered, and records a later open as evidence', async () => {
      const org = await h.createOrg();
      const ticket = await emailTicket(h, org, 'Bounce');
      const first = await reply(h, org, ticket.id);
      await drain(emailRunner(h, catcher.url));
      const status = async (body: Record<string, unknown>) => {
        const res = await postStatus(h, { providerMessageId: first.emailMessageId, ...body });
        expect(res.statusCode).toBe(200);
        return (await messagesOf(h, org, ticket.id))[0]!;
      };
      expect(
        await status({
          event: 'bounced',
          errorCode: 550,
          errorMessage: 'mailbox unavailable',
          timestamp: '2026-01-15T10:31:00Z',
        }),
      ).toMatchObject({ deliveryStatus: 'bounced', deliveryError: '550: mailbox unavailable' });
      expect(await status({ event: 'delivered' })).toMatchObject({ deliveryStatus: 'bounced' });
      expect(await status({ event: 'failed', errorMessage: 'later' })).toMatchObject({
        deliveryStatus: 'bounced',
        deliveryError: '550: mailbox unavailable',
      });
      expect(await status({ event: 'opened', timestamp: 1768473120 })).toMatchObject({
        deliveryStatus: 'opened',
      });
      expect(await status({ event: 'bounced' })).toMatchObject({ deliveryStatus: 'opened' });
    });
  },
  ENV,
);
