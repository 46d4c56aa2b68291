/** Every statement on the channels table. */
import type { ChannelType, ChannelsTable, Executor } from '../db/schema.js';
import { notFound } from '../errors.js';
import { keysetPage, type PageRequest } from '../http/pagination.js';

export async function insertChannel(trx: Executor, row: ChannelsTable): Promise<void> {
  await trx.insertInto('channels').values(row).execute();
}

export async function listChannels(
  db: Executor,
  organizationId: string,
  page: PageRequest,
  type: ChannelType | undefined,
): Promise<ChannelsTable[]> {
  return db
    .selectFrom('channels')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .$if(type !== undefined, (q) => q.where('type', '=', type!))
    .$call(keysetPage(page))
    .execute();
}

export async function getChannel(
  db: Executor,
  organizationId: string,
  id: string,
): Promise<ChannelsTable> {
  const row = await db
    .selectFrom('channels')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('Channel');
  return row;
}

/** The channel a provider callback is addressed to, by the random segment of its URL. */
export async function findChannelByRouteKey(
  db: Executor,
  routeKey: string,
): Promise<ChannelsTable | undefined> {
  return db.selectFrom('channels').selectAll().where('route_key', '=', routeKey).executeTakeFirst();
}

export async function updateChannelRow(
  trx: Executor,
  organizationId: string,
  id: string,
  change: Pick<ChannelsTable, 'name' | 'config' | 'credentials' | 'updated_at'>,
): Promise<void> {
  await trx
    .updateTable('channels')
    .set(change)
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .execute();
}

/** Provider event keys and ticket links go with the channel (ON DELETE CASCADE); tickets stay. */
export async function deleteChannel(
  trx: Executor,
  organizationId: string,
  id: string,
): Promise<void> {
  const result = await trx
    .deleteFrom('channels')
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (result.numDeletedRows === 0n) throw notFound('Channel');
}
