/**
 * What a recovery (docs/api.md, "Recovering a time range") costs the other
 * deliveries of a running Hookdesk. Standalone, one command:
 *
 *   npx tsx bench/recover.ts                                      # SQLite
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/recover.ts
 *
 * (with DATABASE_URL: SQLite, then PostgreSQL in a database of its own,
 * created for the run and dropped after it).
 *
 * One `hookdesk serve` (from the TypeScript sources, through tsx) delivers a
 * large backlog of one organization's eight webhooks ("flow") to the
 * benchmark's receiver process (bench/lib/receiver-process.ts) at full
 * speed. Other organizations (BENCH_RECOVER_ROUNDS, default 5) each have a
 * webhook that was disabled for the last hour: BENCH_RECOVER_EVENTS
 * (default 10,000) events, half with a delivery that failed, half with
 * none. One after the other, each is recovered, then recovered again (which
 * queues nothing: a scan only). The flow's delivery rate while each job ran
 * (the recovery's `createdAt` to `completedAt`) is compared with the seconds
 * just before and just after it, as the flow's rate drifts over a run while
 * its backlog drains, from the receiver's arrival counts sampled every
 * 100 ms. The recovered deliveries fall due after the flow's older backlog,
 * so they wait behind it: the windows show the job's own cost. Every wait
 * is bounded in time; nothing leaves the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/clock.js';
import type { DatabaseHandle } from '../src/db/dialect.js';
import { migrate } from '../src/db/migrate.js';
import { openPostgres } from '../src/db/postgres/postgres.js';
import { openSqlite } from '../src/db/sqlite/sqlite.js';
import { newId } from '../src/ids.js';
import { freePort, waitForOk } from '../test/support/cli.js';
import { adminQuery } from '../test/support/postgres.js';
import { BenchReceiver } from './lib/receiver.js';
import { CA_FILE, ROOT, sleep, until } from './lib/hookdesk.js';
import {
  DEFAULT_POLICY,
  createOrg,
  insertBacklog,
  insertWebhooks,
  ticketCreatedPayload,
} from './lib/seed.js';

const RECOVER_EVENTS = Number(process.env.BENCH_RECOVER_EVENTS ?? 10_000);
/** Recoveries measured, each of its own organization's range. */
const ROUNDS = Number(process.env.BENCH_RECOVER_ROUNDS ?? 5);
const FLOW_BACKLOG = Number(process.env.BENCH_RECOVER_FLOW ?? 800_000);
/** Enough webhooks that the flow fills the worker's slots (4 per webhook, 32 in all). */
const FLOW_WEBHOOKS = 8;
/** The reference windows just before and just after each recovery. */
const REFERENCE_MS = 4_000;
const MAIN = join(ROOT, 'src/cli/main.ts');

const log = (line: string) => process.stdout.write(`${line}\n`);

/** What the recover and recovery routes answer (docs/api.md, "Recovering a time range"). */
interface RecoveryAnswer {
  id: string;
  status: 'running' | 'done' | 'failed';
  deliveriesQueued: number;
  createdAt: string;
  completedAt: string | null;
}

interface Sample {
  at: number;
  flow: number;
}

/** One recovery: its job's time (the recovery's created → completed) and what it queued. */
interface Run {
  from: number;
  to: number;
  queued: number;
}

/** The flow's rate (deliveries/s) just before a recovery, while its job ran, and just after. */
interface Window {
  before: number;
  during: number;
  after: number;
  /** The job's time, from the recovery's creation to its completion. */
  seconds: number;
}

interface Result {
  dialect: string;
  jobs: Window[];
  reruns: Window[];
  queued: number[];
  rerunQueued: number[];
  flowLeft: number;
}

/** Flow deliveries per second between two times, from the samples. */
function rate(samples: Sample[], from: number, to: number): number {
  const inside = samples.filter((s) => s.at >= from && s.at <= to);
  const first = inside[0];
  const last = inside.at(-1);
  if (!first || !last || last.at === first.at) return NaN;
  return ((last.flow - first.flow) * 1000) / (last.at - first.at);
}

/**
 * The flow around one recovery. Its job's window is widened to 1 s at least
 * (a scan that queues nothing takes less), so that it holds enough samples.
 */
function around(samples: Sample[], run: Run): Window {
  const mid = (run.from + run.to) / 2;
  const from = Math.min(run.from, mid - 500);
  const to = Math.max(run.to, mid + 500);
  return {
    before: rate(samples, from - REFERENCE_MS, from),
    during: rate(samples, from, to),
    after: rate(samples, to, to + REFERENCE_MS),
    seconds: (run.to - run.from) / 1000,
  };
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
};

async function seed(database: DatabaseHandle, receiver: BenchReceiver, databaseUrl: string) {
  const flowOrg = await createOrg(database, `flow${Date.now()}`);
  const flowHooks = await insertWebhooks(
    database,
    flowOrg.organizationId,
    Array.from({ length: FLOW_WEBHOOKS }, (_, i) => receiver.url(`/flow/${i + 1}`)),
  );
  const recovered: Recovered[] = [];
  for (let round = 0; round < ROUNDS; round++)
    recovered.push(await seedRecovered(database, receiver, round));
  await insertBacklog(databaseUrl, flowOrg.organizationId, flowHooks, FLOW_BACKLOG);
  return { recovered, flowHooks };
}

interface Recovered {
  apiKey: string;
  hook: string;
  since: number;
}

/**
 * An organization whose webhook was disabled for the last hour: its events of
 * that hour, half with a delivery that failed, half with none.
 */
async function seedRecovered(
  database: DatabaseHandle,
  receiver: BenchReceiver,
  round: number,
): Promise<Recovered> {
  const org = await createOrg(database, `recovered${round}x${Date.now()}`);
  const [hook] = await insertWebhooks(database, org.organizationId, [
    receiver.url(`/recovered/${round}`),
  ]);
  const now = Date.now();
  const start = now - 3_600_000;
  const CHUNK = 1_000;
  for (let from = 0; from < RECOVER_EVENTS; from += CHUNK) {
    const events = [];
    const deliveries = [];
    for (let i = from; i < Math.min(RECOVER_EVENTS, from + CHUNK); i++) {
      const id = newId();
      const at = start + Math.floor((i * 3_500_000) / RECOVER_EVENTS);
      events.push({
        id,
        organization_id: org.organizationId,
        survey_id: null,
        ticket_id: `ticket-${i}`,
        type: 'ticket.created',
        payload: ticketCreatedPayload(org.organizationId, id, i, at),
        created_at: at,
      });
      if (i % 2 === 0) {
        deliveries.push({
          id: newId(),
          organization_id: org.organizationId,
          webhook_id: hook!,
          event_id: id,
          event_type: 'ticket.created',
          payload: '',
          status: 'failed' as const,
          attempt_count: 1 + DEFAULT_POLICY.length,
          attempts_allowed: 1 + DEFAULT_POLICY.length,
          next_attempt_at: null,
          lease_owner: null,
          lease_until: null,
          is_test: 0,
          rate_slot: 0,
          order_key: null,
          created_at: at,
          updated_at: at + 1_000,
          completed_at: at + 1_000,
        });
      }
    }
    await database.db.insertInto('events').values(events).execute();
    if (deliveries.length > 0)
      await database.db.insertInto('deliveries').values(deliveries).execute();
  }
  return { apiKey: org.apiKey, hook: hook!, since: now - 2 * 3_600_000 };
}

function startServe(databaseUrl: string, port: number, logFile: string): ChildProcess {
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
      HOOKDESK_EGRESS_CA_FILE: CA_FILE,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  return child;
}

async function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  child.kill('SIGTERM');
  await exited;
  clearTimeout(timer);
}

async function runDialect(
  dialect: 'sqlite' | 'postgres',
  receiver: BenchReceiver,
  adminUrl?: string,
): Promise<Result> {
  const workDir = mkdtempSync(join(tmpdir(), `hookdesk-bench-recover-${dialect}-`));
  let databaseUrl: string;
  let drop: (() => Promise<void>) | null = null;
  if (dialect === 'sqlite') databaseUrl = `sqlite:${join(workDir, 'bench.db')}`;
  else {
    const name = `hookdesk_bench_recover_${process.pid}_${Date.now().toString(36)}`;
    await adminQuery(adminUrl!, `create database ${name}`);
    const u = new URL(adminUrl!);
    u.pathname = `/${name}`;
    databaseUrl = u.toString();
    drop = () => adminQuery(adminUrl!, `drop database if exists ${name} with (force)`);
  }
  const database =
    dialect === 'sqlite'
      ? openSqlite(databaseUrl.slice('sqlite:'.length))
      : openPostgres(databaseUrl, { poolSize: 2 });
  let serve: ChildProcess | null = null;
  const logFile = join(workDir, 'serve.log');
  try {
    await migrate(database, systemClock);
    log(
      `== ${dialect}: seeding ${RECOVER_EVENTS} events to recover, ${FLOW_BACKLOG} flow deliveries`,
    );
    const { recovered, flowHooks } = await seed(database, receiver, databaseUrl);
    await receiver.clear('flow');
    await receiver.clear('recovered');

    const port = await freePort();
    serve = startServe(databaseUrl, port, logFile);
    if (!(await waitForOk(`http://127.0.0.1:${port}/readyz`, 60_000)))
      throw new Error(`hookdesk serve did not become ready:\n${readFileSync(logFile, 'utf8')}`);
    const api = async (key: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.status, body: (await res.json()) as RecoveryAnswer };
    };

    const samples: Sample[] = [];
    let sampling = true;
    const sampler = (async () => {
      for (let i = 0; sampling && i < 20_000; i++) {
        samples.push({ at: Date.now(), flow: await receiver.count('flow') });
        await sleep(100);
      }
    })();

    if (!(await until(async () => (await receiver.count('flow')) > 0, 60_000)))
      throw new Error('the flow never started');
    await sleep(5_000); // warm-up

    /** Runs one recovery to its end; the job's time is the recovery's own (created → completed). */
    const recover = async (r: Recovered): Promise<Run> => {
      const posted = await api(r.apiKey, 'POST', `/api/webhooks/${r.hook}/recover`, {
        since: new Date(r.since).toISOString(),
      });
      if (posted.status !== 202) throw new Error(`recover answered ${posted.status}`);
      let last = posted.body;
      const ok = await until(
        async () => {
          last = (await api(r.apiKey, 'GET', `/api/webhooks/${r.hook}/recoveries/${last.id}`)).body;
          return last.status !== 'running';
        },
        120_000,
        50,
      );
      if (!ok || last.status !== 'done' || !last.completedAt)
        throw new Error(`recovery: ${JSON.stringify(last)}`);
      await sleep(REFERENCE_MS);
      return {
        from: Date.parse(last.createdAt),
        to: Date.parse(last.completedAt),
        queued: last.deliveriesQueued,
      };
    };

    const runs: { job: Run; rerun: Run }[] = [];
    for (const [i, r] of recovered.entries()) {
      log(`   round ${i + 1}: recovering ${RECOVER_EVENTS} events, then the same range again`);
      const job = await recover(r);
      runs.push({ job, rerun: await recover(r) });
    }
    sampling = false;
    await sampler;

    const left = await database.db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'pending')
      .where('webhook_id', 'in', flowHooks)
      .executeTakeFirstOrThrow();
    return {
      dialect,
      jobs: runs.map((r) => around(samples, r.job)),
      reruns: runs.map((r) => around(samples, r.rerun)),
      queued: runs.map((r) => r.job.queued),
      rerunQueued: runs.map((r) => r.rerun.queued),
      flowLeft: Number(left.n),
    };
  } finally {
    if (serve) await stopServe(serve);
    await database.close();
    await drop?.();
    if (process.env.BENCH_KEEP !== '1') rmSync(workDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const adminUrl = process.env.DATABASE_URL;
  const receiver = await new BenchReceiver().start();
  const results: Result[] = [];
  try {
    results.push(await runDialect('sqlite', receiver));
    if (adminUrl?.startsWith('postgres'))
      results.push(await runDialect('postgres', receiver, adminUrl));
  } finally {
    await receiver.close();
  }
  const f = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
  /** During ÷ the mean of before and after, per round. */
  const shares = (ws: Window[]) => ws.map((w) => (200 * w.during) / (w.before + w.after));
  log('');
  log(
    `Flow deliveries/s (${FLOW_WEBHOOKS} webhooks of another organization, a backlog) while a recovery's job ran, against the ${REFERENCE_MS / 1000} s before and after it; ${ROUNDS} rounds, medians (each round's share in brackets).`,
  );
  log('');
  log(
    '| database | recovery | job s | queued | flow before | flow during | flow after | during ÷ around |',
  );
  log('| --- | --- | --: | --: | --: | --: | --: | --: |');
  for (const r of results) {
    for (const [what, ws, queued] of [
      [`${RECOVER_EVENTS.toLocaleString('en-US')} events`, r.jobs, r.queued],
      ['the same again', r.reruns, r.rerunQueued],
    ] as const) {
      const pick = (k: keyof Window) => median(ws.map((w) => w[k]));
      log(
        `| ${r.dialect} | ${what} | ${pick('seconds').toFixed(2)} | ${f(median(queued))} | ${f(pick('before'))} | ${f(pick('during'))} | ${f(pick('after'))} | ${f(median(shares(ws)))} % (${shares(ws).map(f).join(', ')}) |`,
      );
    }
    if (r.flowLeft === 0)
      log(`  (${r.dialect}: the flow backlog ran out: raise BENCH_RECOVER_FLOW)`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error).stack ?? error)}\n`);
  process.exit(1);
});
