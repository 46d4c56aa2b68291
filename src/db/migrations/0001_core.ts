/** Tenancy, help-desk core and the event outbox. */
import type { Migration } from './index.js';

export const core: Migration = {
  name: '0001_core',
  async up(db, t) {
    await db.schema
      .createTable('organizations')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('name', t.text, (c) => c.notNull())
      .addColumn('ticket_counter', t.int, (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('users')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('email', t.text, (c) => c.notNull())
      .addColumn('name', t.text, (c) => c.notNull())
      .addColumn('role', t.text, (c) => c.notNull())
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .addUniqueConstraint('users_org_email_unique', ['organization_id', 'email'])
      .execute();

    await db.schema
      .createTable('api_keys')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('user_id', t.id, (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', t.text, (c) => c.notNull())
      .addColumn('prefix', t.text, (c) => c.notNull())
      .addColumn('key_hash', t.text, (c) => c.notNull().unique())
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('last_used_at', t.timestamp)
      .addColumn('revoked_at', t.timestamp)
      .execute();
    await db.schema
      .createIndex('api_keys_org_idx')
      .on('api_keys')
      .columns(['organization_id', 'id'])
      .execute();

    await db.schema
      .createTable('contacts')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('email', t.text)
      .addColumn('phone', t.text)
      .addColumn('name', t.text)
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .addUniqueConstraint('contacts_org_email_unique', ['organization_id', 'email'])
      .addUniqueConstraint('contacts_org_phone_unique', ['organization_id', 'phone'])
      .execute();

    await db.schema
      .createTable('tickets')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('number', t.int, (c) => c.notNull())
      .addColumn('subject', t.text, (c) => c.notNull())
      .addColumn('description', t.text)
      .addColumn('status', t.text, (c) => c.notNull())
      .addColumn('priority', t.text, (c) => c.notNull())
      .addColumn('channel', t.text, (c) => c.notNull())
      .addColumn('contact_id', t.id, (c) => c.notNull().references('contacts.id'))
      .addColumn('assignee_id', t.id, (c) => c.references('users.id'))
      .addColumn('tags', t.json, (c) => c.notNull())
      .addColumn('first_response_due_at', t.timestamp)
      .addColumn('resolution_due_at', t.timestamp)
      .addColumn('first_responded_at', t.timestamp)
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .addColumn('resolved_at', t.timestamp)
      .addColumn('closed_at', t.timestamp)
      .addUniqueConstraint('tickets_org_number_unique', ['organization_id', 'number'])
      .execute();
    await db.schema
      .createIndex('tickets_org_status_idx')
      .on('tickets')
      .columns(['organization_id', 'status', 'id'])
      .execute();
    await db.schema
      .createIndex('tickets_org_assignee_idx')
      .on('tickets')
      .columns(['organization_id', 'assignee_id'])
      .execute();
    await db.schema
      .createIndex('tickets_org_contact_idx')
      .on('tickets')
      .columns(['organization_id', 'contact_id'])
      .execute();

    await db.schema
      .createTable('messages')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('ticket_id', t.id, (c) => c.notNull().references('tickets.id').onDelete('cascade'))
      .addColumn('direction', t.text, (c) => c.notNull())
      .addColumn('channel', t.text, (c) => c.notNull())
      .addColumn('body', t.text, (c) => c.notNull())
      .addColumn('body_html', t.text)
      .addColumn('author_id', t.id, (c) => c.references('users.id').onDelete('set null'))
      .addColumn('contact_id', t.id, (c) => c.references('contacts.id'))
      .addColumn('email_message_id', t.text)
      .addColumn('provider_message_id', t.text)
      .addColumn('delivery_status', t.text)
      .addColumn('delivery_error', t.text)
      .addColumn('attachments', t.json, (c) => c.notNull())
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('messages_ticket_idx')
      .on('messages')
      .columns(['ticket_id', 'id'])
      .execute();
    await db.schema
      .createIndex('messages_org_email_message_id_idx')
      .on('messages')
      .columns(['organization_id', 'email_message_id'])
      .execute();
    await db.schema
      .createIndex('messages_provider_message_id_idx')
      .on('messages')
      .columns(['provider_message_id'])
      .execute();

    await db.schema
      .createTable('surveys')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('name', t.text, (c) => c.notNull())
      .addColumn('questions', t.json, (c) => c.notNull())
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('surveys_org_idx')
      .on('surveys')
      .columns(['organization_id', 'id'])
      .execute();

    await db.schema
      .createTable('survey_responses')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('survey_id', t.id, (c) => c.notNull().references('surveys.id').onDelete('cascade'))
      .addColumn('answers', t.json, (c) => c.notNull())
      .addColumn('embedded_data', t.json, (c) => c.notNull())
      .addColumn('metadata', t.json, (c) => c.notNull())
      .addColumn('completed_at', t.timestamp)
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('survey_responses_survey_idx')
      .on('survey_responses')
      .columns(['survey_id', 'id'])
      .execute();

    await db.schema
      .createTable('notifications')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('user_id', t.id, (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('type', t.text, (c) => c.notNull())
      .addColumn('title', t.text, (c) => c.notNull())
      .addColumn('body', t.text, (c) => c.notNull())
      .addColumn('data', t.json, (c) => c.notNull())
      .addColumn('read_at', t.timestamp)
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('notifications_user_idx')
      .on('notifications')
      .columns(['user_id', 'id'])
      .execute();

    // Events keep no foreign key to tickets or surveys: the outbox outlives
    // what raised it (a deleted survey's events still explain past deliveries).
    await db.schema
      .createTable('events')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('survey_id', t.id)
      .addColumn('ticket_id', t.id)
      .addColumn('type', t.text, (c) => c.notNull())
      .addColumn('payload', t.json, (c) => c.notNull())
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('events_org_idx')
      .on('events')
      .columns(['organization_id', 'id'])
      .execute();
    await db.schema
      .createIndex('events_org_type_idx')
      .on('events')
      .columns(['organization_id', 'type', 'id'])
      .execute();
  },
};
