/** `POST /api/rpc/tickets/email/inbound`: new tickets, stripping, duplicates, discarding, validation. */
import { expect, it } from 'vitest';
import { receiveInboundEmail } from '../src/inbound/email/receive.js';
import { forEachDialect } from './support/harness.js';
import {
  counts,
  emailTicket,
  inbound,
  messagesOf,
  postInbound,
  reply,
  setOrganization,
} from './support/email.js';
import { problemFields } from './support/webhooks.js';

forEachDialect('inbound email', (h) => {
  async function eventsOf(organizationId: string) {
    return h.db
      .selectFrom('events')
      .select(['type', 'ticket_id'])
      .where('organization_id', '=', organizationId)
      .orderBy('id')
      .execute();
  }

  it('opens an email ticket for unmatched mail, with the sender as requester', async () => {
    const org = await h.createOrg();
    const res = await postInbound(
      h,
      inbound(org, {
        from: '"Pat Doe" <Pat@Example.com>',
        subject: '  Printer on fire ',
        messageId: 'first@mail.example.com',
        html: '<p>It is still burning.</p>',
        attachments: [
          { filename: 'fire.jpg', contentType: 'image/jpeg', size: 1234, url: 'https://x.test/1' },
          { filename: 'log.txt' },
        ],
      }),
    );
    expect(res.statusCode, res.body).toBe(200);
    const { ticketId, messageId } = res.json();
    const ticket = (
      await h.request({ method: 'GET', url: `/api/tickets/${ticketId}`, key: org.apiKey })
    ).json();
    expect(ticket).toMatchObject({
      subject: 'Printer on fire',
      channel: 'email',
      status: 'open',
      description: 'It is still burning.',
      requester: { email: 'pat@example.com', name: 'Pat Doe' },
    });
    const [message] = await messagesOf(h, org, ticketId);
    expect(message).toMatchObject({
      id: messageId,
      direction: 'inbound',
      channel: 'email',
      body: 'It is still burning.',
      bodyFull: 'It is still burning.',
      bodyHtml: '<p>It is still burning.</p>',
      authorId: null,
      contactId: ticket.requester.contactId,
      emailMessageId: '<first@mail.example.com>',
      providerMessageId: 'first@mail.example.com',
      deliveryStatus: null,
      attachments: [
        { filename: 'fire.jpg', contentType: 'image/jpeg', size: 1234, url: 'https://x.test/1' },
        { filename: 'log.txt', contentType: null, size: null, url: null },
      ],
    });
    expect(await eventsOf(org.organizationId)).toEqual([
      { type: 'ticket.created', ticket_id: ticketId },
      { type: 'message.created', ticket_id: ticketId },
    ]);
  });

  it('strips quoted text and signatures from the body and keeps the whole text', async () => {
    const org = await h.createOrg();
    const text =
      'Still broken, sorry.\n\nSent from my iPhone\n\nOn Wed, Jan 14, 2026 at 9:00 AM Support <support@acme.test> wrote:\n> Try turning it off and on.\n';
    const res = await postInbound(h, inbound(org, { text }));
    const [message] = await messagesOf(h, org, res.json().ticketId);
    expect(message!.body).toBe('Still broken, sorry.');
    expect(message!.bodyFull).toBe(text);

    const htmlOnly = await postInbound(
      h,
      inbound(org, { text: '', html: '<div>Hello &amp; thanks<br>Pat</div><style>p{}</style>' }),
    );
    expect((await messagesOf(h, org, htmlOnly.json().ticketId))[0]!.body).toBe(
      'Hello & thanks\nPat',
    );
    const empty = await postInbound(h, inbound(org, { text: undefined, subject: undefined }));
    expect(empty.statusCode, empty.body).toBe(200);
    const emptyTicket = await h.request({
      method: 'GET',
      url: `/api/tickets/${empty.json().ticketId}`,
      key: org.apiKey,
    });
    expect(emptyTicket.json()).toMatchObject({ subject: '(no subject)', description: null });
  });

  it('stores one message per Message-ID, also when deliveries race', async () => {
    const org = await h.createOrg();
    const body = inbound(org, { messageId: '<dup@mail.example.com>' });
    const first = (await postInbound(h, body)).json();
    const before = await counts(h);
    const again = await postInbound(h, { ...body, messageId: 'dup@mail.example.com' });
    expect(again.json()).toEqual(first);
    expect(await counts(h)).toEqual(before);

    const racing = inbound(org, { messageId: '<race@mail.example.com>', subject: 'Race' });
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => postInbound(h, racing).then((r) => r.json())),
    );
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    const tickets = await h.db
      .selectFrom('tickets')
      .select('id')
      .where('organization_id', '=', org.organizationId)
      .where('subject', '=', 'Race')
      .execute();
    expect(tickets).toHaveLength(1);
    expect(await messagesOf(h, org, tickets[0]!.id)).toHaveLength(1);
  });

  it('drops unmatched mail when the organization says so, but still threads replies', async () => {
    const org = await h.createOrg();
    const ticket = await emailTicket(h, org);
    const ours = await reply(h, org, ticket.id);
    await setOrganization(h, org, { inboundEmail: { unmatched: 'discard' } });
    const before = await counts(h);
    const dropped = await postInbound(h, inbound(org, { messageId: 'spam@spam.test' }));
    expect(dropped.statusCode).toBe(200);
    expect(dropped.json()).toEqual({ success: true, ticketId: null, messageId: null });
    expect(await counts(h)).toEqual(before);

    const answer = await postInbound(h, inbound(org, { inReplyTo: ours.emailMessageId }));
    expect(answer.json()).toMatchObject({ success: true, ticketId: ticket.id });
  });

  it('serves provider adapters through receiveInboundEmail', async () => {
    const org = await h.createOrg();
    const ticket = await emailTicket(h, org);
    const ours = await reply(h, org, ticket.id);
    const receive = (extra: Partial<Parameters<typeof receiveInboundEmail>[2]>) =>
      h.db.transaction().execute((trx) =>
        receiveInboundEmail(trx, h.clock, {
          organizationId: org.organizationId,
          from: 'pat@example.com',
          fromName: 'Pat',
          to: 'support@acme.test',
          text: 'Parsed from MIME\u0000 by an adapter',
          attachments: [],
          ...extra,
        }),
      );
    const joined = await receive({
      messageId: 'adapter@mail.example.com',
      references: ['<unknown@x.test>', ours.providerMessageId],
    });
    expect(joined.ticketId).toBe(ticket.id);
    expect(await receive({ messageId: '<adapter@mail.example.com>' })).toEqual(joined);
    const [, message] = await messagesOf(h, org, ticket.id);
    expect(message!.body).toBe('Parsed from MIME by an adapter');
    await expect(receive({ from: 'nobody' })).rejects.toMatchObject({
      code: 'validation_failed',
    });
  });

  it("never matches another organization's Message-IDs", async () => {
    const a = await h.createOrg();
    const b = await h.createOrg();
    const ticket = await emailTicket(h, a);
    const ours = await reply(h, a, ticket.id);
    const res = await postInbound(h, inbound(b, { inReplyTo: ours.emailMessageId }));
    expect(res.statusCode).toBe(200);
    expect(res.json().ticketId).not.toBe(ticket.id);
    expect(await messagesOf(h, a, ticket.id)).toHaveLength(1);
  });

  it('answers 400 listing each problem, and 404 for an unknown organization; nothing is written', async () => {
    const org = await h.createOrg();
    const before = await counts(h);
    const missing = await postInbound(h, { subject: 'x' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.code).toBe('validation_failed');
    expect(problemFields(missing).sort()).toEqual(['from', 'organizationId', 'to']);

    const wrong = await postInbound(h, {
      ...inbound(org),
      organizationId: 'not-a-uuid',
      text: 42,
      attachments: [{ size: -1 }],
      extra: true,
    });
    expect(wrong.statusCode).toBe(400);
    expect(problemFields(wrong).sort()).toEqual([
      'attachments[0].filename',
      'attachments[0].size',
      'extra',
      'organizationId',
      'text',
    ]);

    const badFrom = await postInbound(h, inbound(org, { from: 'Pat <not an address>' }));
    expect(badFrom.statusCode).toBe(400);
    expect(problemFields(badFrom)).toEqual(['from']);

    const unknown = await postInbound(h, {
      ...inbound(org),
      organizationId: '00000000-0000-4000-8000-000000000000',
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('not_found');
    expect(await counts(h)).toEqual(before);
  });
});
