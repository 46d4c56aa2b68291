/**
 * `/api/channels` (docs/providers.md, "Provider channels"): connecting provider
 * accounts. Admin keys only; credentials go in, callback URLs come out,
 * secrets never do.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { PageOf, pageRequest, toPage } from '../http/pagination.js';
import { TAG } from '../http/openapi-tags.js';
import { examplePage } from '../http/shared.examples.js';
import {
  ErrorResponse,
  IdParams,
  NoContent,
  errorResponses,
  withExamples,
} from '../http/schemas.js';
import { deleteChannel, getChannel, listChannels } from './channels.repository.js';
import {
  channelExample,
  createChannelExample,
  patchChannelExample,
  patchedChannelExample,
} from './channels.examples.js';
import {
  ChannelSchema,
  CreateChannelBody,
  ListChannelsQuery,
  PatchChannelBody,
} from './channels.schemas.js';
import { createChannel, toChannelDto, updateChannel } from './channels.service.js';
import { vaultFor } from './vault.js';

export function channelRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  const { clock } = deps;
  const { publicUrl } = deps.config;
  const vault = vaultFor(deps.config, deps.database);
  const config = { adminOnly: true };
  const tags = [TAG.channels];

  return async (app) => {
    app.get(
      '/api/channels',
      {
        config,
        schema: {
          tags,
          summary: 'List channels',
          description: 'Newest first; `type` filters. Secrets are never shown.',
          querystring: ListChannelsQuery,
          response: {
            200: withExamples(PageOf(ChannelSchema), examplePage(channelExample)),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const page = pageRequest(request.query);
        const rows = await listChannels(
          db,
          authOf(request).organizationId,
          page,
          request.query.type,
        );
        return toPage(rows, page.limit, (row) => toChannelDto(row, publicUrl));
      },
    );

    app.post(
      '/api/channels',
      {
        config,
        schema: {
          tags,
          summary: 'Connect a provider channel',
          description:
            "Checks the type's credentials and stores the secret ones encrypted. Answers the " +
            'callback URLs to paste into the provider console.',
          body: withExamples(CreateChannelBody, createChannelExample),
          response: {
            201: withExamples(ChannelSchema, channelExample),
            ...errorResponses,
            409: ErrorResponse,
          },
        },
      },
      async (request, reply) => {
        const { organizationId } = authOf(request);
        const { row, reveal } = await db
          .transaction()
          .execute((trx) => createChannel(trx, clock, vault, organizationId, request.body));
        return reply.status(201).send(toChannelDto(row, publicUrl, reveal));
      },
    );

    app.get(
      '/api/channels/:id',
      {
        config,
        schema: {
          tags,
          summary: 'Get a channel',
          params: IdParams,
          response: { 200: withExamples(ChannelSchema, channelExample), ...errorResponses },
        },
      },
      async (request) => {
        const row = await getChannel(db, authOf(request).organizationId, request.params.id);
        return toChannelDto(row, publicUrl);
      },
    );

    app.patch(
      '/api/channels/:id',
      {
        config,
        schema: {
          tags,
          summary: 'Update a channel',
          description:
            'Renames it or changes credentials: those not given are kept, `null` removes an optional one.',
          params: IdParams,
          body: withExamples(PatchChannelBody, patchChannelExample),
          response: {
            200: withExamples(ChannelSchema, patchedChannelExample),
            ...errorResponses,
            409: ErrorResponse,
          },
        },
      },
      async (request) => {
        const { organizationId } = authOf(request);
        const { row, reveal } = await db
          .transaction()
          .execute((trx) =>
            updateChannel(trx, clock, vault, organizationId, request.params.id, request.body),
          );
        return toChannelDto(row, publicUrl, reveal);
      },
    );

    app.delete(
      '/api/channels/:id',
      {
        config,
        schema: {
          tags,
          summary: 'Delete a channel',
          description: 'Its callback URLs stop working at once.',
          params: IdParams,
          response: { 204: NoContent, ...errorResponses },
        },
      },
      async (request, reply) => {
        const { organizationId } = authOf(request);
        await db
          .transaction()
          .execute((trx) => deleteChannel(trx, organizationId, request.params.id));
        return reply.status(204).send(null);
      },
    );
  };
}
