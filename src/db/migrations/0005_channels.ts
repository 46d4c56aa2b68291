/**
 * Provider channels (docs/providers.md, "Provider channels"): the connected
 * accounts with their encrypted credentials, the provider event keys that make
 * retries harmless, and the link between a messaging ticket and the channel its
 * conversation runs on.
 */
import type { Migration } from './index.js';

export const channels: Migration = {
  name: '0005_channels',
  async up(db, t) {
    await db.schema
      .createTable('channels')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('type', t.text, (c) => c.notNull())
      .addColumn('name', t.text, (c) => c.notNull())
      // The random path segment of the callback URLs. Not the id: UUIDv7 ids
      // are partly predictable (timestamp and a counter), a URL segment must not be.
      .addColumn('route_key', t.text, (c) => c.notNull().unique())
      // Non-secret settings as JSON, shown by the API.
      .addColumn('config', t.json, (c) => c.notNull())
      // AES-256-GCM ciphertext of the secrets (channels/vault.ts); never in clear.
      .addColumn('credentials', t.text, (c) => c.notNull())
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('channels_org_idx')
      .on('channels')
      .columns(['organization_id', 'id'])
      .execute();

    // One row per provider event already handled; the primary key turns a
    // retried or replayed event into a no-op (INSERT … ON CONFLICT DO NOTHING).
    await db.schema
      .createTable('provider_events')
      .addColumn('channel_id', t.id, (c) =>
        c.notNull().references('channels.id').onDelete('cascade'),
      )
      .addColumn('dedupe_key', t.text, (c) => c.notNull())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('received_at', t.timestamp, (c) => c.notNull())
      .addPrimaryKeyConstraint('provider_events_pk', ['channel_id', 'dedupe_key'])
      .execute();

    // A messaging ticket's channel. A table rather than a tickets column: the
    // link belongs to the channel (deleting it drops the link, not the ticket).
    await db.schema
      .createTable('channel_tickets')
      .addColumn('ticket_id', t.id, (c) =>
        c.primaryKey().references('tickets.id').onDelete('cascade'),
      )
      .addColumn('channel_id', t.id, (c) =>
        c.notNull().references('channels.id').onDelete('cascade'),
      )
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('contact_id', t.id, (c) =>
        c.notNull().references('contacts.id').onDelete('cascade'),
      )
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('channel_tickets_contact_idx')
      .on('channel_tickets')
      .columns(['channel_id', 'contact_id'])
      .execute();
  },
};
