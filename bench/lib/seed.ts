/**
 * Test data written straight into the database (not timed): organizations
 * through the real code, webhooks and large pending backlogs by bulk insert —
 * a prepared statement in large transactions on SQLite, `unnest` arrays on
 * PostgreSQL. Payloads are real `ticket.created` envelopes, one per delivery.
 */
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { iso, systemClock } from '../../src/clock.js';
import type { DatabaseHandle } from '../../src/db/dialect.js';
import { newId } from '../../src/ids.js';
import { createOrganization } from '../../src/orgs/organizations.js';

export const BENCH_SECRET = 'whsec_bench_0123456789abcdef';
export const DEFAULT_POLICY = [1, 5, 30, 300, 1800, 7200];

export interface Org {
  organizationId: string;
  apiKey: string;
}

export async function createOrg(database: DatabaseHandle, name: string): Promise<Org> {
  const created = await database.db
    .transaction()
    .execute((trx) =>
      createOrganization(trx, systemClock, { name, adminEmail: `admin-${name}@bench.example` }),
    );
  return { organizationId: created.organizationId, apiKey: created.apiKey };
}

/** Ticket webhooks inserted directly (as the API would store them); returns their ids. */
export async function insertWebhooks(
  database: DatabaseHandle,
  organizationId: string,
  urls: readonly string[],
): Promise<string[]> {
  const now = Date.now();
  const rows = urls.map((url, i) => ({
    id: newId(),
    organization_id: organizationId,
    survey_id: null,
    name: `bench ${i}`,
    url,
    events: JSON.stringify(['ticket.created']),
    secret: BENCH_SECRET,
    headers: JSON.stringify({}),
    active: 1,
    retry_policy: JSON.stringify(DEFAULT_POLICY),
    consecutive_failures: 0,
    disabled_at: null,
    disabled_reason: null,
    last_delivery_at: null,
    created_at: now,
    updated_at: now,
  }));
  await database.db.insertInto('webhooks').values(rows).execute();
  return rows.map((r) => r.id);
}

/** A `ticket.created` envelope as Hookdesk builds it (about 700 bytes). */
export function ticketCreatedPayload(
  organizationId: string,
  eventId: string,
  n: number,
  at: number,
): string {
  const ts = iso(at);
  return JSON.stringify({
    organizationId,
    eventType: 'ticket.created',
    eventId,
    timestamp: ts,
    data: {
      ticket: {
        id: newId(),
        number: n,
        organizationId,
        subject: `Printer on fire, floor ${n % 40}`,
        description:
          'The office printer started smoking during the monthly report run. Please send someone.',
        status: 'open',
        priority: 'normal',
        channel: 'api',
        requester: {
          contactId: newId(),
          email: `customer${n % 5000}@example.com`,
          phone: null,
          name: `Customer ${n % 5000}`,
        },
        assigneeId: null,
        tags: ['bench', 'hardware'],
        firstResponseDueAt: null,
        resolutionDueAt: null,
        createdAt: ts,
        updatedAt: ts,
        resolvedAt: null,
        closedAt: null,
      },
    },
  });
}

const COLUMNS = [
  'id',
  'organization_id',
  'webhook_id',
  'event_id',
  'event_type',
  'payload',
  'status',
  'attempt_count',
  'attempts_allowed',
  'next_attempt_at',
  'is_test',
  'created_at',
  'updated_at',
] as const;

/**
 * Inserts `count` pending deliveries, all due now, spread round-robin over
 * `webhookIds`. Returns the time it took, in ms.
 */
export async function insertBacklog(
  databaseUrl: string,
  organizationId: string,
  webhookIds: readonly string[],
  count: number,
  onProgress?: (done: number) => void,
): Promise<number> {
  const started = performance.now();
  const now = Date.now();
  const CHUNK = databaseUrl.startsWith('sqlite:') ? 20_000 : 5_000;
  const makeChunk = (from: number, to: number) => {
    const rows: (string | number)[][] = [];
    for (let i = from; i < to; i++) {
      const eventId = newId();
      rows.push([
        newId(),
        organizationId,
        webhookIds[i % webhookIds.length]!,
        eventId,
        'ticket.created',
        ticketCreatedPayload(organizationId, eventId, i, now),
        'pending',
        0,
        1 + DEFAULT_POLICY.length,
        now,
        0,
        now,
        now,
      ]);
    }
    return rows;
  };

  if (databaseUrl.startsWith('sqlite:')) {
    const native = new SqliteDatabase(databaseUrl.slice('sqlite:'.length));
    native.pragma('journal_mode = WAL');
    native.pragma('busy_timeout = 10000');
    native.pragma('synchronous = NORMAL');
    try {
      const insert = native.prepare(
        `insert into deliveries (${COLUMNS.join(', ')}) values (${COLUMNS.map(() => '?').join(', ')})`,
      );
      const insertMany = native.transaction((rows: (string | number)[][]) => {
        for (const r of rows) insert.run(r);
      });
      for (let from = 0; from < count; from += CHUNK) {
        insertMany(makeChunk(from, Math.min(count, from + CHUNK)));
        onProgress?.(Math.min(count, from + CHUNK));
      }
      native.pragma('wal_checkpoint(TRUNCATE)');
      native.exec('analyze');
    } finally {
      native.close();
    }
  } else {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const types = [
        'text',
        'text',
        'text',
        'text',
        'text',
        'text',
        'text',
        'int',
        'int',
        'bigint',
        'int',
        'bigint',
        'bigint',
      ];
      const statement = `insert into deliveries (${COLUMNS.join(', ')}) select * from unnest(${types
        .map((t, i) => `$${i + 1}::${t}[]`)
        .join(', ')})`;
      for (let from = 0; from < count; from += CHUNK) {
        const rows = makeChunk(from, Math.min(count, from + CHUNK));
        const columns = COLUMNS.map((_, c) => rows.map((r) => r[c]));
        await client.query(statement, columns);
        onProgress?.(Math.min(count, from + CHUNK));
      }
      await client.query('analyze deliveries');
    } finally {
      await client.end();
    }
  }
  return performance.now() - started;
}
