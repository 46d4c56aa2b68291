/**
 * What payload filters cost at fan-out, in one process: `emitEvents` of one
 * `ticket.created` event per transaction (as a ticket's creation raises it)
 * into an organization with 20 ticket webhooks without filters, and into one
 * with 20 webhooks that each have a typical filter (a priority `$in` and a
 * tags literal). Every event matches every filter, so both write 20
 * deliveries per event and the difference is the filters' own cost: reading
 * the column, compiling (cached by text), and evaluating against the envelope.
 *
 *   npx tsx bench/fanout-filters.ts                                         # SQLite, a temporary file
 *   PG_URL=postgres://postgres@127.0.0.1/hd_dev npx tsx bench/fanout-filters.ts postgres
 *
 * Rounds alternate the two organizations (ROUNDS pairs of N events each);
 * each round's deliveries and events are deleted before the next, untimed,
 * so both see tables of the same size. It prints the process's CPU per
 * event for each round (and the PostgreSQL backends'), then the best and
 * the median round of each and their ratios. The database's share makes
 * these noisy on a busy machine, so it also times the filters' own part
 * alone, without the database: `deliveryRows` (fan-out's row builder, where
 * filters are evaluated) for one event over each organization's 20
 * subscriptions as `loadSubscriptions` read them, alternating, in µs per event.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { systemClock } from '../src/clock.js';
import { migrate } from '../src/db/migrate.js';
import { openDatabase } from '../src/db/open.js';
import { deliveryRows, loadSubscriptions } from '../src/delivery/queue/fanout.js';
import { emitEvents } from '../src/events/outbox.js';
import { newId } from '../src/ids.js';
import { cpuMs } from './lib/hookdesk.js';
import { createOrg, insertWebhooks, ticketCreatedPayload } from './lib/seed.js';

const dialect = process.argv[2] === 'postgres' ? 'postgres' : 'sqlite';
const url =
  dialect === 'sqlite'
    ? `sqlite:${join(mkdtempSync(join(tmpdir(), 'hookdesk-fanout-filters-')), 'db.sqlite')}`
    : process.env.PG_URL;
if (!url) throw new Error('PG_URL=postgres://… names the database to use');
const EVENTS = Number(process.env.N ?? 500);
const ROUNDS = Number(process.env.ROUNDS ?? 10);
/** `deliveryRows` calls per round of the part without the database. */
const ROW_BUILDS = 30_000;
const WEBHOOKS = 20;
const FILTER = { 'data.ticket.priority': { $in: ['high', 'urgent'] }, 'data.ticket.tags': 'vip' };

const database = openDatabase(url);
const { db } = database;
await migrate(database, systemClock);
const stamp = Date.now();
const variants = [
  { name: 'no filters', org: await createOrg(database, `fanout-plain-${stamp}`) },
  { name: 'filters', org: await createOrg(database, `fanout-filtered-${stamp}`) },
];
for (const v of variants) {
  const urls = Array.from({ length: WEBHOOKS }, (_, i) => `https://127.0.0.1:9/${i}`);
  const ids = await insertWebhooks(database, v.org.organizationId, urls);
  if (v.name === 'filters') {
    await db
      .updateTable('webhooks')
      .set({ filter: JSON.stringify(FILTER) })
      .where('id', 'in', ids)
      .execute();
  }
}

/** The `data` of a `ticket.created` event as Hookdesk builds it, matching FILTER. */
function ticketData(organizationId: string, n: number): object {
  const { data } = JSON.parse(ticketCreatedPayload(organizationId, newId(), n, Date.now())) as {
    data: { ticket: Record<string, unknown> };
  };
  data.ticket.priority = 'high';
  data.ticket.tags = ['vip', 'hardware'];
  return data;
}

/** CPU ms of the PostgreSQL backends serving this database. */
async function backendsMs(): Promise<number> {
  if (dialect === 'sqlite') return 0;
  const { rows } = await sql<{ pid: number }>`
    select pid from pg_stat_activity where datname = current_database()`.execute(db);
  return rows.reduce((total, r) => total + cpuMs(r.pid), 0);
}

async function emit(organizationId: string, count: number): Promise<void> {
  for (let n = 0; n < count; n++) {
    const data = ticketData(organizationId, n);
    await db
      .transaction()
      .execute((trx) =>
        emitEvents(trx, systemClock, [
          { type: 'ticket.created', organizationId, ticketId: newId(), data },
        ]),
      );
  }
}

async function clear(organizationId: string): Promise<void> {
  await db.deleteFrom('deliveries').where('organization_id', '=', organizationId).execute();
  await db.deleteFrom('events').where('organization_id', '=', organizationId).execute();
}

for (const v of variants) {
  await emit(v.org.organizationId, 200); // warm-up
  await clear(v.org.organizationId);
}
const rounds = new Map<string, number[]>(variants.map((v) => [v.name, []]));
for (let round = 1; round <= ROUNDS; round++) {
  // Alternating which goes first, so neither always runs on a warmer process.
  for (const v of round % 2 === 1 ? variants : [...variants].reverse()) {
    const db0 = await backendsMs();
    const cpu0 = process.cpuUsage();
    await emit(v.org.organizationId, EVENTS);
    const cpu = process.cpuUsage(cpu0);
    const cpuUs = (cpu.user + cpu.system) / EVENTS;
    const dbUs = ((await backendsMs()) - db0) * (1000 / EVENTS);
    const delivered = await db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('organization_id', '=', v.org.organizationId)
      .executeTakeFirstOrThrow();
    if (Number(delivered.n) !== EVENTS * WEBHOOKS) throw new Error(`${v.name}: ${delivered.n}`);
    rounds.get(v.name)!.push(cpuUs);
    process.stdout.write(
      `${dialect} round ${round} ${v.name.padEnd(10)}: process ${cpuUs.toFixed(0)} µs per event` +
        (dialect === 'postgres' ? `, backends ${dbUs.toFixed(0)} µs\n` : '\n'),
    );
    await clear(v.org.organizationId);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [what, pick] of [
  ['best', (xs: number[]) => Math.min(...xs)],
  ['median', median],
] as const) {
  const plain = pick(rounds.get('no filters')!);
  const filtered = pick(rounds.get('filters')!);
  process.stdout.write(
    `${dialect} ${what} (process CPU per event, ${WEBHOOKS} webhooks): no filters ${plain.toFixed(0)} µs, ` +
      `filters ${filtered.toFixed(0)} µs, ratio ${(filtered / plain).toFixed(3)}\n`,
  );
}

// The filters' own part, without the database.
const builds = [];
for (const v of variants) {
  const organizationId = v.org.organizationId;
  const subscriptions = await loadSubscriptions(db, organizationId);
  const data = ticketData(organizationId, 1);
  const id = newId();
  const envelope = {
    organizationId,
    eventType: 'ticket.created',
    eventId: id,
    timestamp: '',
    data,
  };
  const event = { id, organizationId, surveyId: null, type: 'ticket.created', envelope };
  builds.push({ name: v.name, run: () => deliveryRows([event], subscriptions, 0).length });
}
const rowTimes = new Map<string, number[]>(builds.map((b) => [b.name, []]));
for (let round = 0; round < 6; round++) {
  for (const b of round % 2 === 0 ? builds : [...builds].reverse()) {
    const cpu0 = process.cpuUsage();
    let rows = 0;
    for (let i = 0; i < ROW_BUILDS; i++) rows += b.run();
    const cpu = process.cpuUsage(cpu0);
    if (rows !== ROW_BUILDS * WEBHOOKS) throw new Error(`${b.name}: ${rows} rows`);
    rowTimes.get(b.name)!.push((cpu.user + cpu.system) / ROW_BUILDS);
  }
}
const rowsPlain = median(rowTimes.get('no filters')!);
const rowsFiltered = median(rowTimes.get('filters')!);
process.stdout.write(
  `${dialect} deliveryRows alone (median, µs per event): no filters ${rowsPlain.toFixed(2)}, ` +
    `filters ${rowsFiltered.toFixed(2)}, filters add ${(rowsFiltered - rowsPlain).toFixed(2)} µs per event\n`,
);
await database.close();
