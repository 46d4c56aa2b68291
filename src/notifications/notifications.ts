/** Admin notifications (docs/api.md, "Notifications"): one record per recipient user. */
import type { Clock } from '../clock.js';
import { iso } from '../clock.js';
import type { Executor, NotificationsTable } from '../db/schema.js';
import { newId } from '../ids.js';

export interface NotificationDto {
  id: string;
  type: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  readAt: string | null;
  createdAt: string;
}

export function toNotificationDto(row: NotificationsTable): NotificationDto {
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    body: row.body,
    data: JSON.parse(row.data) as Record<string, unknown>,
    readAt: iso(row.read_at),
    createdAt: iso(row.created_at),
  };
}

/** Creates one notification for every admin of the organization; returns the recipients. */
export async function notifyAdmins(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  n: { type: string; title: string; body: string; data: object },
): Promise<{ userId: string; email: string; notificationId: string }[]> {
  const admins = await trx
    .selectFrom('users')
    .select(['id', 'email'])
    .where('organization_id', '=', organizationId)
    .where('role', '=', 'admin')
    .orderBy('id')
    .execute();
  if (admins.length === 0) return [];
  const now = clock.now();
  const rows = admins.map((a) => ({
    id: newId(),
    organization_id: organizationId,
    user_id: a.id,
    type: n.type,
    title: n.title,
    body: n.body,
    data: JSON.stringify(n.data),
    read_at: null,
    created_at: now,
  }));
  await trx.insertInto('notifications').values(rows).execute();
  return rows.map((r, i) => ({ userId: r.user_id, email: admins[i]!.email, notificationId: r.id }));
}
