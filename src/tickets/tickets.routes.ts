/**
 * `/api/tickets` and, through `messageRoutes`, `/api/tickets/{id}/messages`.
 * Open to every key of the organization.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { PageOf, PageQuery, pageRequest, toPage } from '../http/pagination.js';
import { TAG } from '../http/openapi-tags.js';
import { examplePage } from '../http/shared.examples.js';
import { IdParams, errorResponses, withExamples } from '../http/schemas.js';
import {
  ChannelInput,
  EMAIL,
  NAME,
  PHONE,
  PriorityInput,
  StatusInput,
  Str,
  StrOrNull,
  StringEnum,
  TagsInput,
  UUID,
} from './inputs.js';
import { messageRoutes } from './messages.routes.js';
import { getTicket, listTickets, toTicketDto } from './tickets.repository.js';
import {
  createTicketExample,
  patchTicketExample,
  pendingTicketExample,
  ticketExample,
} from './tickets.examples.js';
import { TicketSchema } from './tickets.schemas.js';
import { createTicket, updateTicket } from './tickets.service.js';

const Subject = Str({ minLength: 1, maxLength: 500 });

const CreateTicketBody = Type.Object(
  {
    subject: Subject,
    description: Type.Optional(Str({ maxLength: 100_000 })),
    priority: Type.Optional(PriorityInput),
    requester: Type.Object(
      {
        email: Type.Optional(Str(EMAIL)),
        phone: Type.Optional(Str(PHONE)),
        name: Type.Optional(Str(NAME)),
      },
      {
        additionalProperties: false,
        description:
          'Found by email, then phone, or created. At least one of `email` and `phone` is required.',
      },
    ),
    assigneeId: Type.Optional(Str({ ...UUID, description: 'A user of the organization.' })),
    tags: Type.Optional(TagsInput),
    channel: Type.Optional(ChannelInput),
  },
  { additionalProperties: false },
);

const PatchTicketBody = Type.Object(
  {
    subject: Type.Optional(Subject),
    priority: Type.Optional(PriorityInput),
    status: Type.Optional(StatusInput),
    assigneeId: Type.Optional(StrOrNull({ ...UUID, description: '`null` unassigns.' })),
    tags: Type.Optional(TagsInput),
  },
  { additionalProperties: false },
);

const ListTicketsQuery = Type.Object(
  {
    ...PageQuery,
    status: Type.Optional(StatusInput),
    assigneeId: Type.Optional(Str(UUID)),
    contactId: Type.Optional(Str(UUID)),
    requester: Type.Optional(
      Str({ minLength: 1, maxLength: 320, description: "The requester's email or phone." }),
    ),
    sla: Type.Optional(
      StringEnum(['breached', 'at_risk'] as const, 'Tickets whose SLA is breached or at risk.'),
    ),
  },
  { additionalProperties: false },
);

export function ticketRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  const { clock } = deps;
  return async (app) => {
    app.get(
      '/api/tickets',
      {
        schema: {
          tags: [TAG.tickets],
          summary: 'List tickets',
          description: 'Newest first; filter by status, assignee, requester or SLA state.',
          querystring: ListTicketsQuery,
          response: {
            200: withExamples(PageOf(TicketSchema), examplePage(ticketExample)),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const page = pageRequest(request.query);
        const { status, assigneeId, contactId, requester, sla } = request.query;
        const rows = await listTickets(db, authOf(request).organizationId, page, {
          status,
          assigneeId,
          contactId,
          requester,
          sla,
        });
        return toPage(rows, page.limit, toTicketDto);
      },
    );

    app.post(
      '/api/tickets',
      {
        schema: {
          tags: [TAG.tickets],
          summary: 'Open a ticket',
          description:
            'Raises `ticket.created`, and `ticket.assigned` when created with an assignee.',
          body: withExamples(CreateTicketBody, createTicketExample),
          response: { 201: withExamples(TicketSchema, ticketExample), ...errorResponses },
        },
      },
      async (request, reply) => {
        const { organizationId } = authOf(request);
        const ticket = await db
          .transaction()
          .execute((trx) => createTicket(trx, clock, organizationId, request.body));
        return reply.status(201).send(ticket);
      },
    );

    app.get(
      '/api/tickets/:id',
      {
        schema: {
          tags: [TAG.tickets],
          summary: 'Get a ticket',
          params: IdParams,
          response: { 200: withExamples(TicketSchema, ticketExample), ...errorResponses },
        },
      },
      async (request) =>
        toTicketDto(await getTicket(db, authOf(request).organizationId, request.params.id)),
    );

    app.patch(
      '/api/tickets/:id',
      {
        schema: {
          tags: [TAG.tickets],
          summary: 'Update a ticket',
          description:
            'Raises, as they apply and in this order: `ticket.updated`, `ticket.status_changed`, ' +
            '`ticket.resolved`, `ticket.closed`, `ticket.assigned`. A patch that changes nothing ' +
            'raises nothing.',
          params: IdParams,
          body: withExamples(PatchTicketBody, patchTicketExample),
          response: { 200: withExamples(TicketSchema, pendingTicketExample), ...errorResponses },
        },
      },
      async (request) => {
        const { organizationId } = authOf(request);
        return db
          .transaction()
          .execute((trx) =>
            updateTicket(trx, clock, organizationId, request.params.id, request.body),
          );
      },
    );

    await app.register(messageRoutes(deps));
  };
}
