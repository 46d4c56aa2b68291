/** Provider event keys by age, for retention (cli/retention.ts). */
import type { Migration } from './index.js';

export const providerEventsAge: Migration = {
  name: '0008_provider_events_age',
  async up(db) {
    await db.schema
      .createIndex('provider_events_received_idx')
      .on('provider_events')
      .column('received_at')
      .execute();
  },
};
