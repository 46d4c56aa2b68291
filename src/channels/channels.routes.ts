/**
 * `/api/channels` (docs/providers.md, "Provider channels"): connecting provider
 * accounts. Admin keys only; credentials go in, callback URLs come out,
 * secrets never do.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { PageOf, pageRequest, toPage } from '../http/pagination.js';
import { ErrorResponse, IdParams, errorResponses } from '../http/schemas.js';
import { deleteChannel, getChannel, listChannels } from './channels.repository.js';
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
  const tags = ['channels'];

  return async (app) => {
    app.get(
      '/api/channels',
      {
        config,
        schema: {
          tags,
          querystring: ListChannelsQuery,
          response: { 200: PageOf(ChannelSchema), ...errorResponses },
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
          body: CreateChannelBody,
          response: { 201: ChannelSchema, ...errorResponses, 409: ErrorResponse },
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
        schema: { tags, params: IdParams, response: { 200: ChannelSchema, ...errorResponses } },
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
          params: IdParams,
          body: PatchChannelBody,
          response: { 200: ChannelSchema, ...errorResponses, 409: ErrorResponse },
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
      { config, schema: { tags, params: IdParams } },
      async (request, reply) => {
        const { organizationId } = authOf(request);
        await db
          .transaction()
          .execute((trx) => deleteChannel(trx, organizationId, request.params.id));
        return reply.status(204).send();
      },
    );
  };
}
