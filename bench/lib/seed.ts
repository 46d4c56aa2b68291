/**
 * Test data written straight into the database (not timed): organizations
 * through the real code, webhooks and large pending backlogs (or finished
 * history) by bulk insert — a prepared statement in large transactions on
 * SQLite, `unnest` arrays on PostgreSQL. Payloads are real `ticket.created`
 * envelopes, one per event.
 */
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { iso, systemClock } from '../../src/clock.js';
import type { DatabaseHandle } from '../../src/db/dialect.js';
import { newId } from '../../src/ids.js';
import { createOrganization } from '../../src/orgs/organizations.js';

export const BENCH_SECRET = 'bench-secret-0123456789abcdef';
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
    ordering: 'none' as const,
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
  'completed_at',
] as const;

const ATTEMPT_COLUMNS = [
  'id',
  'delivery_id',
  'number',
  'started_at',
  'duration_ms',
  'status_code',
  'response_headers',
  'response_body',
  'response_body_truncated',
] as const;
const ATTEMPT_HEADERS = JSON.stringify({ 'content-type': 'text/plain', 'content-length': '2' });

const EVENT_COLUMNS = [
  'id',
  'organization_id',
  'survey_id',
  'ticket_id',
  'type',
  'payload',
  'created_at',
] as const;

export interface BacklogOptions {
  /** When the pending deliveries fall due (default: now). */
  dueAt?: number;
  /**
   * Finished history instead of pending work: every delivery succeeded at
   * its first attempt (one `delivery_attempts` row each), completed at times
   * spread evenly from `from` to `to`, its event created just before.
   */
  finished?: { from: number; to: number };
  /**
   * Events spread round robin over this many tickets, each delivery keyed by
   * its event's ticket (`order_key`), as the fan-out writes deliveries of
   * webhooks with `ordering: "ticket"` (figure 11).
   */
  tickets?: number;
  /** ANALYZE the tables afterwards (default true); false when more inserts follow at once. */
  analyze?: boolean;
}

/**
 * Inserts `count` deliveries (pending and due now unless `options` says
 * otherwise), spread round-robin over `webhookIds`, as the outbox writes
 * them: each event goes to every webhook, its body stored once on the event
 * row and read from there by each delivery (src/delivery/queue/body.ts).
 * `BENCH_INLINE_BODIES=1` also copies the body into every delivery row, as
 * builds before that change stored it (for before/after runs with
 * `BENCH_MAIN`). Returns the time it took, in ms.
 */
export async function insertBacklog(
  databaseUrl: string,
  organizationId: string,
  webhookIds: readonly string[],
  count: number,
  onProgress?: (done: number) => void,
  options: BacklogOptions = {},
): Promise<number> {
  const started = performance.now();
  const now = Date.now();
  const { finished } = options;
  const dueAt = options.dueAt ?? now;
  const CHUNK = databaseUrl.startsWith('sqlite:') ? 20_000 : 5_000;
  const inline = process.env.BENCH_INLINE_BODIES === '1';
  let eventId = '';
  let body = '';
  let at = now;
  let ticket: string | null = null;
  const keyed = options.tickets !== undefined;
  const columns: readonly string[] = keyed ? [...COLUMNS, 'order_key'] : COLUMNS;
  const makeChunk = (from: number, to: number) => {
    const rows: (string | number | null)[][] = [];
    const events: (string | number | null)[][] = [];
    const attempts: (string | number)[][] = [];
    for (let i = from; i < to; i++) {
      if (i % webhookIds.length === 0) {
        eventId = newId();
        at = finished
          ? Math.round(finished.from + ((finished.to - finished.from) * i) / count)
          : now;
        body = ticketCreatedPayload(organizationId, eventId, i, at);
        ticket = keyed ? `bench-ticket-${(i / webhookIds.length) % options.tickets!}` : null;
        events.push([eventId, organizationId, null, ticket, 'ticket.created', body, at]);
      }
      const id = newId();
      // A finished delivery: created with its event, completed by an attempt 10 ms later.
      const done = finished ? at + 10 : null;
      rows.push([
        id,
        organizationId,
        webhookIds[i % webhookIds.length]!,
        eventId,
        'ticket.created',
        inline ? body : '',
        finished ? 'succeeded' : 'pending',
        finished ? 1 : 0,
        1 + DEFAULT_POLICY.length,
        finished ? null : dueAt,
        0,
        at,
        done ?? at,
        done,
        ...(keyed ? [ticket] : []),
      ]);
      if (done !== null)
        attempts.push([newId(), id, 1, done - 3, 3, 200, ATTEMPT_HEADERS, 'ok', 0]);
    }
    return { rows, events, attempts };
  };

  if (databaseUrl.startsWith('sqlite:')) {
    const native = new SqliteDatabase(databaseUrl.slice('sqlite:'.length));
    native.pragma('journal_mode = WAL');
    native.pragma('busy_timeout = 10000');
    native.pragma('synchronous = NORMAL');
    try {
      const prepare = (table: string, columns: readonly string[]) =>
        native.prepare(
          `insert into ${table} (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`,
        );
      const insert = prepare('deliveries', columns);
      const insertEvent = prepare('events', EVENT_COLUMNS);
      const insertAttempt = prepare('delivery_attempts', ATTEMPT_COLUMNS);
      const insertMany = native.transaction((chunk: ReturnType<typeof makeChunk>) => {
        for (const e of chunk.events) insertEvent.run(e);
        for (const r of chunk.rows) insert.run(r);
        for (const a of chunk.attempts) insertAttempt.run(a);
      });
      for (let from = 0; from < count; from += CHUNK) {
        insertMany(makeChunk(from, Math.min(count, from + CHUNK)));
        onProgress?.(Math.min(count, from + CHUNK));
      }
      native.pragma('wal_checkpoint(TRUNCATE)');
      if (options.analyze !== false) native.exec('analyze');
    } finally {
      native.close();
    }
  } else {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const unnest = (table: string, columns: readonly string[], types: readonly string[]) =>
        `insert into ${table} (${columns.join(', ')}) select * from unnest(${types
          .map((t, i) => `$${i + 1}::${t}[]`)
          .join(', ')})`;
      const statement = unnest('deliveries', columns, [
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
        'bigint',
        ...(keyed ? ['text'] : []),
      ]);
      const eventStatement = unnest('events', EVENT_COLUMNS, [
        'text',
        'text',
        'text',
        'text',
        'text',
        'text',
        'bigint',
      ]);
      const attemptStatement = unnest('delivery_attempts', ATTEMPT_COLUMNS, [
        'text',
        'text',
        'int',
        'bigint',
        'int',
        'int',
        'text',
        'text',
        'int',
      ]);
      const byColumn = (rows: unknown[][], width: number) =>
        Array.from({ length: width }, (_, c) => rows.map((r) => r[c]));
      for (let from = 0; from < count; from += CHUNK) {
        const { rows, events, attempts } = makeChunk(from, Math.min(count, from + CHUNK));
        await client.query(eventStatement, byColumn(events, EVENT_COLUMNS.length));
        await client.query(statement, byColumn(rows, columns.length));
        if (attempts.length > 0)
          await client.query(attemptStatement, byColumn(attempts, ATTEMPT_COLUMNS.length));
        onProgress?.(Math.min(count, from + CHUNK));
      }
      if (options.analyze !== false)
        for (const table of ['deliveries', 'events', 'delivery_attempts'])
          await client.query(`analyze ${table}`);
    } finally {
      await client.end();
    }
  }
  return performance.now() - started;
}
