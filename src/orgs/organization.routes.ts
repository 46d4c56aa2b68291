/** `/api/organization`: the caller's organization and its inbound-email settings (admins only). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { TAG } from '../http/openapi-tags.js';
import { Timestamp, Uuid, errorResponses, withExamples } from '../http/schemas.js';
import { StringEnum, Str } from '../tickets/inputs.js';
import {
  getOrganizationSettings,
  toOrganizationDto,
  updateOrganizationSettings,
} from './settings.js';
import {
  organizationExample,
  patchOrganizationExample,
  patchedOrganizationExample,
} from './organization.examples.js';

const Unmatched = StringEnum(
  ['create', 'discard'] as const,
  'What inbound email that matches no ticket does: open a new ticket (default) or be dropped.',
);

const OrganizationSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  inboundEmail: Type.Object({
    unmatched: Type.Union([Type.Literal('create'), Type.Literal('discard')]),
    tokenSet: Type.Boolean({
      description: 'True when `POST /api/rpc/tickets/email/inbound` requires the inbound token.',
    }),
  }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const PatchOrganizationBody = Type.Object(
  {
    name: Type.Optional(Str({ minLength: 1, maxLength: 200 })),
    inboundEmail: Type.Optional(
      Type.Object(
        {
          unmatched: Type.Optional(Unmatched),
          token: Type.Optional(
            Type.Unsafe<string | null>({
              type: 'string',
              nullable: true,
              minLength: 20,
              maxLength: 200,
              pattern: '^[!-~]+$',
              description:
                'Printable ASCII without spaces, 20 to 200 characters. Once set, inbound email must carry it as `X-Hookdesk-Inbound-Token` or `?token=`. `null` removes it. Stored hashed; never shown again.',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export function organizationRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  const { clock } = deps;
  return async (app) => {
    app.get(
      '/api/organization',
      {
        config: { adminOnly: true },
        schema: {
          tags: [TAG.organization],
          summary: 'Get the organization',
          description:
            'Its name and inbound email settings; the inbound token itself is never shown.',
          response: {
            200: withExamples(OrganizationSchema, organizationExample),
            ...errorResponses,
          },
        },
      },
      async (request) =>
        toOrganizationDto(await getOrganizationSettings(db, authOf(request).organizationId)),
    );

    app.patch(
      '/api/organization',
      {
        config: { adminOnly: true },
        schema: {
          tags: [TAG.organization],
          summary: 'Update the organization',
          description:
            'Renames it, or changes what inbound email does: where unmatched mail goes, and the token it must carry.',
          body: withExamples(PatchOrganizationBody, patchOrganizationExample),
          response: {
            200: withExamples(OrganizationSchema, patchedOrganizationExample),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const { organizationId } = authOf(request);
        const settings = await db
          .transaction()
          .execute((trx) => updateOrganizationSettings(trx, clock, organizationId, request.body));
        return toOrganizationDto(settings);
      },
    );
  };
}
