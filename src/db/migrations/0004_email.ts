/**
 * Ticket email: the organization's inbound-email settings, the full text of
 * inbound email beside its stripped body, and one message per Message-ID
 * within an organization (a repeated inbound email is one message).
 */
import type { Migration } from './index.js';

export const email: Migration = {
  name: '0004_email',
  async up(db, t) {
    // One column per statement: SQLite's ALTER TABLE adds one column at a time.
    await db.schema
      .alterTable('organizations')
      .addColumn('inbound_unmatched', t.text, (c) => c.notNull().defaultTo('create'))
      .execute();
    await db.schema.alterTable('organizations').addColumn('inbound_token_hash', t.text).execute();
    await db.schema.alterTable('messages').addColumn('body_full', t.text).execute();
    // Unique replaces the plain index of 0001: NULLs (messages that are not
    // email) never collide on either dialect.
    await db.schema.dropIndex('messages_org_email_message_id_idx').execute();
    await db.schema
      .createIndex('messages_org_email_message_id_key')
      .on('messages')
      .columns(['organization_id', 'email_message_id'])
      .unique()
      .execute();
  },
};
