/**
 * What receivers can ask of a webhook (docs/webhooks.md): a previous secret
 * that still signs until it expires (rotation with overlap), and a rate
 * limit shared by every worker process. `rate_next_at` is the limit's
 * schedule: the earliest time the next attempt may start (delivery/rate-limit.ts).
 * A delivery whose attempt was given a later start is put back `pending`
 * until then with `rate_slot` set, so it is not charged a second time.
 */
import type { Migration } from './index.js';

export const receiverContract: Migration = {
  name: '0009_receiver_contract',
  async up(db, t) {
    await db.schema.alterTable('webhooks').addColumn('previous_secret', t.text).execute();
    await db.schema
      .alterTable('webhooks')
      .addColumn('previous_secret_expires_at', t.timestamp)
      .execute();
    await db.schema.alterTable('webhooks').addColumn('rate_limit_per_second', t.int).execute();
    await db.schema.alterTable('webhooks').addColumn('rate_next_at', t.timestamp).execute();
    await db.schema
      .alterTable('deliveries')
      .addColumn('rate_slot', t.bool, (c) => c.notNull().defaultTo(0))
      .execute();
  },
};
