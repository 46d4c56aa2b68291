/**
 * The second half of what receivers can ask of a webhook (docs/webhooks.md):
 * a payload filter and per-ticket ordering on webhooks; the key deliveries
 * are ordered by (`order_key`: the ticket, or the survey response, set only
 * for webhooks with ordering), with an index holding only the unfinished
 * ordered rows that the claim checks; recoveries of a time range; and
 * events by time, which recoveries walk and retention prunes.
 */
import { sql } from 'kysely';
import type { Migration } from './index.js';

export const receiverContract2: Migration = {
  name: '0010_receiver_contract_2',
  async up(db, t) {
    await db.schema.alterTable('webhooks').addColumn('filter', t.json).execute();
    await db.schema
      .alterTable('webhooks')
      .addColumn('ordering', t.text, (c) => c.notNull().defaultTo('none'))
      .execute();
    await db.schema.alterTable('deliveries').addColumn('order_key', t.text).execute();
    // What the claim asks of an ordered delivery: is an earlier one of the same
    // key and webhook still pending or in flight? Finished rows leave the index.
    await db.schema
      .createIndex('deliveries_order_idx')
      .on('deliveries')
      .columns(['webhook_id', 'order_key', 'id'])
      .where(
        sql<boolean>`order_key is not null and status in (${sql.lit('pending')}, ${sql.lit('delivering')})`,
      )
      .execute();

    await db.schema
      .createTable('recoveries')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('webhook_id', t.id, (c) =>
        c.notNull().references('webhooks.id').onDelete('cascade'),
      )
      .addColumn('since', t.timestamp, (c) => c.notNull())
      .addColumn('until', t.timestamp, (c) => c.notNull())
      .addColumn('status', t.text, (c) => c.notNull())
      .addColumn('deliveries_queued', t.int, (c) => c.notNull().defaultTo(0))
      // The last event handled, in (created_at, id) order: where a resumed run goes on.
      .addColumn('cursor_created_at', t.timestamp)
      .addColumn('cursor_event_id', t.id)
      .addColumn('error', t.text)
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .addColumn('completed_at', t.timestamp)
      .execute();
    await db.schema
      .createIndex('recoveries_webhook_idx')
      .on('recoveries')
      .columns(['webhook_id', 'id'])
      .execute();

    await db.schema
      .createIndex('events_org_created_idx')
      .on('events')
      .columns(['organization_id', 'created_at', 'id'])
      .execute();
    await db.schema.createIndex('events_created_idx').on('events').column('created_at').execute();
  },
};
