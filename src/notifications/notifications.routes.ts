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
  withExamples,
} from '../http/schemas.js';
import { TAG } from '../http/openapi-tags.js';
import { examplePage } from '../http/shared.examples.js';
import { notificationExample, readNotificationExample } from './notifications.examples.js';
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
          tags: [TAG.notifications],
          summary: 'List my notifications',
          description:
            "The calling key's user's notifications, newest first, such as a webhook disabled after repeated failures (admins).",
          querystring: Type.Object(
            {
              ...PageQuery,
              unread: Type.Optional(Type.Boolean({ description: 'Only unread ones.' })),
            },
            { additionalProperties: false },
          ),
          response: {
            200: withExamples(PageOf(NotificationSchema), examplePage(notificationExample)),
            ...errorResponses,
          },
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
          tags: [TAG.notifications],
          summary: 'Mark a notification read',
          description: 'Marking one already read changes nothing.',
          params: IdParams,
          response: {
            200: withExamples(NotificationSchema, readNotificationExample),
            ...errorResponses,
          },
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
