/** `/api/notifications`: the caller's own notifications, newest first. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { notFound } from '../errors.js';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { keysetPage, PageOf, PageQuery, pageRequest, toPage } from '../http/pagination.js';
import {
  FreeObject,
  IdParams,
  Nullable,
  Timestamp,
  Uuid,
  errorResponses,
} from '../http/schemas.js';
import { toNotificationDto } from './notifications.js';

const NotificationSchema = Type.Object({
  id: Uuid,
  type: Type.String(),
  title: Type.String(),
  body: Type.String(),
  data: FreeObject,
  readAt: Nullable(Timestamp),
  createdAt: Timestamp,
});

export function notificationRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  return async (app) => {
    app.get(
      '/api/notifications',
      {
        schema: {
          tags: ['notifications'],
          querystring: Type.Object(
            {
              ...PageQuery,
              unread: Type.Optional(Type.Boolean({ description: 'Only unread ones.' })),
            },
            { additionalProperties: false },
          ),
          response: { 200: PageOf(NotificationSchema), ...errorResponses },
        },
      },
      async (request) => {
        const auth = authOf(request);
        const page = pageRequest(request.query);
        const rows = await db
          .selectFrom('notifications')
          .selectAll()
          .where('organization_id', '=', auth.organizationId)
          .where('user_id', '=', auth.userId)
          .$if(request.query.unread === true, (q) => q.where('read_at', 'is', null))
          .$call(keysetPage(page))
          .execute();
        return toPage(rows, page.limit, toNotificationDto);
      },
    );

    app.post(
      '/api/notifications/:id/read',
      {
        schema: {
          tags: ['notifications'],
          params: IdParams,
          response: { 200: NotificationSchema, ...errorResponses },
        },
      },
      async (request) => {
        const auth = authOf(request);
        const row = await db.transaction().execute(async (trx) => {
          const found = await trx
            .selectFrom('notifications')
            .selectAll()
            .where('organization_id', '=', auth.organizationId)
            .where('user_id', '=', auth.userId)
            .where('id', '=', request.params.id)
            .executeTakeFirst();
          if (!found) throw notFound('Notification');
          if (found.read_at !== null) return found;
          const readAt = deps.clock.now();
          await trx
            .updateTable('notifications')
            .set({ read_at: readAt })
            .where('id', '=', found.id)
            .execute();
          return { ...found, read_at: readAt };
        });
        return toNotificationDto(row);
      },
    );
  };
}
