/**
 * `POST /api/rpc/tickets/email/inbound` (docs/providers.md, "Inbound email").
 * Public: no API key. What the contract leaves open is closed here: when the
 * organization has set an inbound token, the request must carry it
 * (`X-Hookdesk-Inbound-Token` or `?token=`), and each source IP and each
 * organization is rate limited. Invalid input answers 400 in the error format:
 * this endpoint is Hookdesk's own, not a provider's.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { AppError, notFound } from '../../errors.js';
import type { AppDeps } from '../../http/deps.js';
import { TAG } from '../../http/openapi-tags.js';
import { ErrorResponse, Nullable, Uuid, errorResponses, withExamples } from '../../http/schemas.js';
import { redactedRequest } from '../../logger.js';
import { findOrganizationSettings, inboundTokenMatches } from '../../orgs/settings.js';
import { Str, StrOrNull, UUID } from '../../tickets/inputs.js';
import { inboundEmailAnswerExample, inboundEmailExample } from './email.examples.js';
import { parseReferences } from './message-ids.js';
import type { Limiter } from './rate-limit.js';
import { receiveInboundEmail, type InboundEmail } from './receive.js';

const INBOUND_TOKEN_HEADER = 'x-hookdesk-inbound-token';

const Attachment = Type.Object(
  {
    filename: Str({ minLength: 1, maxLength: 1000 }),
    contentType: Type.Optional(StrOrNull({ maxLength: 255 })),
    size: Type.Optional(
      Type.Unsafe<number | null>({ type: 'integer', nullable: true, minimum: 0 }),
    ),
    url: Type.Optional(StrOrNull({ maxLength: 4000 })),
  },
  { additionalProperties: false },
);

const InboundEmailBody = Type.Object(
  {
    organizationId: Str({ ...UUID, description: 'The organization receiving the mail.' }),
    from: Str({
      minLength: 1,
      maxLength: 1000,
      description: 'Sender address, or `Name <address>`.',
    }),
    to: Str({ minLength: 1, maxLength: 10_000 }),
    subject: Type.Optional(StrOrNull({ maxLength: 10_000 })),
    text: Type.Optional(StrOrNull({ description: 'Plain-text body. (Default: empty)' })),
    html: Type.Optional(StrOrNull({})),
    messageId: Type.Optional(
      StrOrNull({ maxLength: 1000, description: 'With or without angle brackets.' }),
    ),
    inReplyTo: Type.Optional(StrOrNull({ maxLength: 10_000 })),
    references: Type.Optional(
      StrOrNull({ maxLength: 200_000, description: 'Space-separated Message-IDs, oldest first.' }),
    ),
    attachments: Type.Optional(
      Type.Array(Attachment, { maxItems: 100, description: 'Metadata only.' }),
    ),
  },
  { additionalProperties: false },
);
type InboundEmailBody = Static<typeof InboundEmailBody>;

const InboundEmailReply = Type.Object({
  success: Type.Literal(true),
  ticketId: Nullable(Uuid),
  messageId: Nullable(Uuid),
});

function toInboundEmail(body: InboundEmailBody): InboundEmail {
  const opt = (value: string | null | undefined) => value ?? undefined;
  return {
    organizationId: body.organizationId,
    from: body.from,
    to: body.to,
    subject: opt(body.subject),
    text: body.text ?? '',
    html: opt(body.html),
    messageId: opt(body.messageId),
    inReplyTo: opt(body.inReplyTo),
    references: parseReferences(body.references ?? null),
    attachments: (body.attachments ?? []).map((a) => ({
      filename: a.filename,
      contentType: a.contentType ?? null,
      size: a.size ?? null,
      url: a.url ?? null,
    })),
  };
}

/** The token a request carries, from the header or else the query string. */
export function inboundTokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers[INBOUND_TOKEN_HEADER];
  if (typeof header === 'string') return header;
  const query = request.query as { token?: unknown } | undefined;
  return typeof query?.token === 'string' ? query.token : undefined;
}

export interface InboundLimits {
  byIp: Limiter;
  byOrganization: Limiter;
}

export function inboundEmailRoute(deps: AppDeps, limits: InboundLimits): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  const { clock } = deps;
  return async (app) => {
    app.post(
      '/api/rpc/tickets/email/inbound',
      {
        logSerializers: { req: redactedRequest },
        schema: {
          tags: [TAG.inboundEmail],
          summary: 'Receive an inbound email',
          description:
            'Receives one email: joins the ticket its `inReplyTo`/`references` name, or opens one (or drops the mail, per the organization setting). The same `messageId` twice is one message. Public; requires the inbound token once the organization has set one. Rate limited per source IP and per organization (429).',
          security: [],
          querystring: Type.Object(
            { token: Type.Optional(Type.String({ maxLength: 200 })) },
            { additionalProperties: false },
          ),
          body: withExamples(InboundEmailBody, inboundEmailExample),
          response: {
            200: withExamples(InboundEmailReply, inboundEmailAnswerExample),
            ...errorResponses,
            429: ErrorResponse,
          },
        },
        onRequest: async (request, reply) => limits.byIp(request, reply, request.ip),
        preHandler: async (request, reply) => {
          const { organizationId } = request.body;
          const settings = await findOrganizationSettings(db, organizationId);
          if (!settings) throw notFound('Organization');
          if (
            settings.inboundTokenHash !== null &&
            !inboundTokenMatches(settings.inboundTokenHash, inboundTokenOf(request))
          ) {
            throw new AppError(
              'unauthorized',
              `This organization requires its inbound token (header X-Hookdesk-Inbound-Token or ?token=).`,
            );
          }
          await limits.byOrganization(request, reply, organizationId);
        },
      },
      async (request) => {
        const email = toInboundEmail(request.body);
        const result = await db
          .transaction()
          .execute((trx) => receiveInboundEmail(trx, clock, email));
        request.log.info(
          { organizationId: email.organizationId, ...result },
          result.ticketId === null ? 'inbound email discarded' : 'inbound email received',
        );
        return { success: true as const, ...result };
      },
    );
  };
}
