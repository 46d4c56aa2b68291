/** `/api/tickets/{id}/messages`: a ticket's conversation, oldest first. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { PageOf, PageQuery, pageRequest, toPage } from '../http/pagination.js';
import { TAG } from '../http/openapi-tags.js';
import { examplePage } from '../http/shared.examples.js';
import { IdParams, errorResponses, withExamples } from '../http/schemas.js';
import { ChannelInput, DirectionInput, Str, UUID } from './inputs.js';
import { listMessages, toMessageDto } from './messages.repository.js';
import { createMessage } from './messages.service.js';
import { messageIdDomain } from '../inbound/email/message-ids.js';
import { getTicket } from './tickets.repository.js';
import { createMessageExample, messageExample } from './tickets.examples.js';
import { MessageSchema } from './tickets.schemas.js';

const CreateMessageBody = Type.Object(
  {
    body: Str({ minLength: 1, maxLength: 100_000 }),
    bodyHtml: Type.Optional(Str({ maxLength: 500_000 })),
    direction: Type.Optional(DirectionInput),
    authorId: Type.Optional(
      Str({
        ...UUID,
        description:
          'A user of the organization; defaults to the caller for outbound messages, none for inbound.',
      }),
    ),
    channel: Type.Optional(ChannelInput),
  },
  { additionalProperties: false },
);

export function messageRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  const { clock } = deps;
  const emailDomain = messageIdDomain(deps.config.publicUrl);
  return async (app) => {
    app.get(
      '/api/tickets/:id/messages',
      {
        schema: {
          tags: [TAG.messages],
          summary: "List a ticket's messages",
          description: 'Oldest first: the conversation in the order it happened.',
          params: IdParams,
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: {
            200: withExamples(PageOf(MessageSchema), examplePage(messageExample)),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const { organizationId } = authOf(request);
        const page = pageRequest(request.query);
        const ticket = await getTicket(db, organizationId, request.params.id);
        const rows = await listMessages(db, organizationId, ticket.id, page);
        return toPage(rows, page.limit, toMessageDto);
      },
    );

    app.post(
      '/api/tickets/:id/messages',
      {
        schema: {
          tags: [TAG.messages],
          summary: 'Add a message to a ticket',
          description:
            'Raises `message.created`. An outbound message on the email channel is mailed to the requester after commit, with its own Message-ID; its `deliveryStatus` starts at `queued`.',
          params: IdParams,
          body: withExamples(CreateMessageBody, createMessageExample),
          response: { 201: withExamples(MessageSchema, messageExample), ...errorResponses },
        },
      },
      async (request, reply) => {
        const { organizationId, userId } = authOf(request);
        const message = await db.transaction().execute((trx) =>
          createMessage(trx, clock, organizationId, request.params.id, request.body, userId, {
            emailDomain,
          }),
        );
        return reply.status(201).send(message);
      },
    );
  };
}
