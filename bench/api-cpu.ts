/**
 * CPU per `POST /api/tickets` in one process, without the network: the
 * request goes through Fastify's `inject` (routing, validation, the handler,
 * serialization, logging), so what is left is Hookdesk's own cost per ticket
 * and, on PostgreSQL, the database backends' cost. No worker runs; the
 * ticket's organization has 5 webhooks, so each ticket writes 5 deliveries.
 *
 *   npx tsx bench/api-cpu.ts > /dev/null                       # SQLite, a temporary file
 *   PG_URL=postgres://postgres@127.0.0.1/hd_api npx tsx bench/api-cpu.ts postgres > /dev/null
 *
 * (stdout carries the app's log lines; the figures go to stderr.) It prints,
 * for each of ROUNDS (5) rounds of N (1000) tickets sent 10 at a time, the
 * process's CPU per ticket, the backends' (PostgreSQL) and the rate. The
 * first rounds include the JIT warming up: compare the best rounds of runs
 * made one after the other, alternating the variants.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { buildApp } from '../src/cli/app.js';
import { systemClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { migrate } from '../src/db/migrate.js';
import { openDatabase } from '../src/db/open.js';
import { createDeliveryContext } from '../src/delivery/context.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { cpuMs } from './lib/hookdesk.js';
import { createOrg, insertWebhooks } from './lib/seed.js';

const dialect = process.argv[2] === 'postgres' ? 'postgres' : 'sqlite';
const url =
  dialect === 'sqlite'
    ? `sqlite:${join(mkdtempSync(join(tmpdir(), 'hookdesk-api-cpu-')), 'db.sqlite')}`
    : process.env.PG_URL;
if (!url) throw new Error('PG_URL=postgres://… names the database to use');
const TICKETS = Number(process.env.N ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const CONCURRENT = 10;

const config = loadConfig({
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  DATABASE_URL: url,
  HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
});
const database = openDatabase(url);
await migrate(database, systemClock);
const org = await createOrg(database, `api-cpu-${Date.now()}`);
await insertWebhooks(
  database,
  org.organizationId,
  Array.from({ length: 5 }, (_, i) => `https://127.0.0.1:9/${i}`),
);
const delivery = createDeliveryContext(config);
const app = await buildApp({
  config,
  database,
  clock: systemClock,
  logger: createLogger(config.logLevel),
  delivery,
  metrics: new Metrics(database.db, systemClock),
});
await app.ready();

/** CPU ms of the PostgreSQL backends serving this database. */
async function backendsMs(): Promise<number> {
  if (dialect === 'sqlite') return 0;
  const { rows } = await sql<{ pid: number }>`
    select pid from pg_stat_activity where datname = current_database()`.execute(database.db);
  return rows.reduce((total, r) => total + cpuMs(r.pid), 0);
}

let sent = 0;
async function post(): Promise<void> {
  const n = sent++;
  const res = await app.inject({
    method: 'POST',
    url: '/api/tickets',
    headers: { authorization: `Bearer ${org.apiKey}`, 'content-type': 'application/json' },
    payload: JSON.stringify({
      subject: `Printer on fire ${n}`,
      description: 'The office printer started smoking during the monthly report run.',
      priority: 'high',
      requester: { email: `customer${n % 500}@example.com`, name: 'Customer' },
    }),
  });
  if (res.statusCode !== 201) throw new Error(`${res.statusCode} ${res.body}`);
}

async function send(count: number): Promise<void> {
  let left = count;
  await Promise.all(
    Array.from({ length: CONCURRENT }, async () => {
      while (left-- > 0) await post();
    }),
  );
}

await send(300); // warm-up
const best = { cpu: Infinity, db: Infinity };
for (let round = 1; round <= ROUNDS; round++) {
  const db0 = await backendsMs();
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  await send(TICKETS);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = (cpu.user + cpu.system) / TICKETS;
  const dbUs = ((await backendsMs()) - db0) * (1000 / TICKETS);
  best.cpu = Math.min(best.cpu, cpuUs);
  best.db = Math.min(best.db, dbUs);
  process.stderr.write(
    `${dialect} round ${round}: ${(TICKETS / seconds).toFixed(0)} tickets/s, CPU per ticket: process ${cpuUs.toFixed(0)} µs` +
      (dialect === 'postgres' ? `, backends ${dbUs.toFixed(0)} µs\n` : '\n'),
  );
}
process.stderr.write(
  `${dialect} best: process ${best.cpu.toFixed(0)} µs` +
    (dialect === 'postgres' ? `, backends ${best.db.toFixed(0)} µs` : '') +
    ` per ticket (LOG_LEVEL=${config.logLevel})\n`,
);
await app.close();
await delivery.close();
await database.close();
