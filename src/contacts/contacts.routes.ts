/** `/api/contacts`: the organization's requesters. Open to every key of the organization. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../errors.js';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { PageOf, PageQuery, pageRequest, toPage } from '../http/pagination.js';
import { TAG } from '../http/openapi-tags.js';
import { examplePage } from '../http/shared.examples.js';
import { ErrorResponse, IdParams, errorResponses, withExamples } from '../http/schemas.js';
import { EMAIL, NAME, PHONE, Str, StrOrNull } from '../tickets/inputs.js';
import {
  contactExample,
  createContactExample,
  patchContactExample,
  patchedContactExample,
} from '../tickets/tickets.examples.js';
import { ContactSchema } from '../tickets/tickets.schemas.js';
import {
  createContact,
  getContact,
  listContacts,
  toContactDto,
  updateContact,
} from './contacts.repository.js';

export function contactRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db, dialect } = deps.database;
  const { clock } = deps;

  /** A unique index hit by a concurrent writer is still a conflict, not a 500. */
  const conflictOnRace = (error: unknown): never => {
    if (dialect.isUniqueViolation(error)) {
      throw new AppError('conflict', 'A contact with this email or phone already exists.', [], {
        cause: error,
      });
    }
    throw error;
  };

  return async (app) => {
    app.get(
      '/api/contacts',
      {
        schema: {
          tags: [TAG.contacts],
          summary: 'List contacts',
          description: 'Newest first; `email` or `phone` finds one contact.',
          querystring: Type.Object(
            {
              ...PageQuery,
              email: Type.Optional(Type.String({ maxLength: 320 })),
              phone: Type.Optional(Type.String({ maxLength: 50 })),
            },
            { additionalProperties: false },
          ),
          response: {
            200: withExamples(PageOf(ContactSchema), examplePage(contactExample)),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const page = pageRequest(request.query);
        const { email, phone } = request.query;
        const rows = await listContacts(db, authOf(request).organizationId, page, {
          email,
          phone,
        });
        return toPage(rows, page.limit, toContactDto);
      },
    );

    app.get(
      '/api/contacts/:id',
      {
        schema: {
          tags: [TAG.contacts],
          summary: 'Get a contact',
          params: IdParams,
          response: { 200: withExamples(ContactSchema, contactExample), ...errorResponses },
        },
      },
      async (request) =>
        toContactDto(await getContact(db, authOf(request).organizationId, request.params.id)),
    );

    app.post(
      '/api/contacts',
      {
        schema: {
          tags: [TAG.contacts],
          summary: 'Create a contact',
          description: 'At least one of `email` and `phone` is required; each is unique.',
          body: withExamples(
            Type.Object(
              {
                email: Type.Optional(Str(EMAIL)),
                phone: Type.Optional(Str(PHONE)),
                name: Type.Optional(Str(NAME)),
              },
              { additionalProperties: false },
            ),
            createContactExample,
          ),
          response: {
            201: withExamples(ContactSchema, contactExample),
            ...errorResponses,
            409: ErrorResponse,
          },
        },
      },
      async (request, reply) => {
        const { organizationId } = authOf(request);
        const row = await db
          .transaction()
          .execute((trx) => createContact(trx, clock, organizationId, request.body))
          .catch(conflictOnRace);
        return reply.status(201).send(toContactDto(row));
      },
    );

    app.patch(
      '/api/contacts/:id',
      {
        schema: {
          tags: [TAG.contacts],
          summary: 'Update a contact',
          description: '`null` removes a field; a contact keeps at least an email or a phone.',
          params: IdParams,
          body: withExamples(
            Type.Object(
              {
                email: Type.Optional(StrOrNull(EMAIL)),
                phone: Type.Optional(StrOrNull(PHONE)),
                name: Type.Optional(StrOrNull(NAME)),
              },
              { additionalProperties: false },
            ),
            patchContactExample,
          ),
          response: {
            200: withExamples(ContactSchema, patchedContactExample),
            ...errorResponses,
            409: ErrorResponse,
          },
        },
      },
      async (request) => {
        const { organizationId } = authOf(request);
        const row = await db
          .transaction()
          .execute((trx) =>
            updateContact(trx, clock, organizationId, request.params.id, request.body),
          )
          .catch(conflictOnRace);
        return toContactDto(row);
      },
    );
  };
}
