/** Outgoing webhooks, their deliveries (the delivery queue) and every attempt. */
import type { Migration } from './index.js';

export const webhooks: Migration = {
  name: '0002_webhooks',
  async up(db, t) {
    await db.schema
      .createTable('webhooks')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      // Null for ticket webhooks; set for survey webhooks, which go with their survey.
      .addColumn('survey_id', t.id, (c) => c.references('surveys.id').onDelete('cascade'))
      .addColumn('name', t.text, (c) => c.notNull())
      .addColumn('url', t.text, (c) => c.notNull())
      .addColumn('events', t.json, (c) => c.notNull())
      .addColumn('secret', t.text)
      .addColumn('headers', t.json, (c) => c.notNull())
      .addColumn('active', t.bool, (c) => c.notNull())
      .addColumn('retry_policy', t.json, (c) => c.notNull())
      .addColumn('consecutive_failures', t.int, (c) => c.notNull().defaultTo(0))
      .addColumn('disabled_at', t.timestamp)
      .addColumn('disabled_reason', t.text)
      .addColumn('last_delivery_at', t.timestamp)
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('webhooks_org_idx')
      .on('webhooks')
      .columns(['organization_id', 'id'])
      .execute();
    await db.schema
      .createIndex('webhooks_survey_idx')
      .on('webhooks')
      .columns(['survey_id'])
      .execute();

    await db.schema
      .createTable('deliveries')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) => c.notNull())
      .addColumn('webhook_id', t.id, (c) =>
        c.notNull().references('webhooks.id').onDelete('cascade'),
      )
      .addColumn('event_id', t.id, (c) => c.notNull())
      .addColumn('event_type', t.text, (c) => c.notNull())
      // The exact body bytes, fixed at creation and sent on every attempt.
      .addColumn('payload', t.json, (c) => c.notNull())
      .addColumn('status', t.text, (c) => c.notNull())
      .addColumn('attempt_count', t.int, (c) => c.notNull().defaultTo(0))
      // 1 + the retry policy's length at creation; a manual retry raises it by one.
      .addColumn('attempts_allowed', t.int, (c) => c.notNull())
      .addColumn('next_attempt_at', t.timestamp)
      .addColumn('lease_owner', t.text)
      .addColumn('lease_until', t.timestamp)
      .addColumn('is_test', t.bool, (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .addColumn('completed_at', t.timestamp)
      .execute();
    // The claim query's index: due pending rows, and expired leases.
    await db.schema
      .createIndex('deliveries_due_idx')
      .on('deliveries')
      .columns(['status', 'next_attempt_at'])
      .execute();
    await db.schema
      .createIndex('deliveries_lease_idx')
      .on('deliveries')
      .columns(['status', 'lease_until'])
      .execute();
    await db.schema
      .createIndex('deliveries_webhook_idx')
      .on('deliveries')
      .columns(['webhook_id', 'id'])
      .execute();
    await db.schema
      .createIndex('deliveries_event_idx')
      .on('deliveries')
      .columns(['event_id'])
      .execute();
    await db.schema
      .createIndex('deliveries_completed_idx')
      .on('deliveries')
      .columns(['completed_at'])
      .execute();

    await db.schema
      .createTable('delivery_attempts')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('delivery_id', t.id, (c) =>
        c.notNull().references('deliveries.id').onDelete('cascade'),
      )
      .addColumn('number', t.int, (c) => c.notNull())
      .addColumn('started_at', t.timestamp, (c) => c.notNull())
      .addColumn('duration_ms', t.int, (c) => c.notNull())
      .addColumn('status_code', t.int)
      .addColumn('response_headers', t.json)
      .addColumn('response_body', t.text)
      .addColumn('response_body_truncated', t.bool, (c) => c.notNull().defaultTo(0))
      .addColumn('error_code', t.text)
      .addColumn('error_message', t.text)
      .execute();
    await db.schema
      .createIndex('delivery_attempts_delivery_idx')
      .on('delivery_attempts')
      .columns(['delivery_id', 'number'])
      .execute();
  },
};
