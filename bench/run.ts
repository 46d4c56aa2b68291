/**
 * `npm run bench`: Hookdesk's delivery benchmarks, everything on loopback.
 * See bench/README.md for what each figure means and every knob.
 *
 *   npm run bench                                  # SQLite
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench
 *                                                  # SQLite, then PostgreSQL (a fresh database, dropped after)
 *   npm run bench -- --record [--label "after"]    # also append the results to bench/RESULTS.md
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { systemClock } from '../src/clock.js';
import { migrate } from '../src/db/migrate.js';
import { openDatabase } from '../src/db/open.js';
import { freePort } from '../test/support/cli.js';
import { MAIN, ROOT } from './lib/hookdesk.js';
import { fairnessPhase, type FairnessFigure } from './lib/fairness-phase.js';
import { ratePhase, type RateFigure } from './lib/rate-phase.js';
import { orderingPhase, type OrderingFigure } from './lib/ordering-phase.js';
import { historyPhase, type HistoryFigure } from './lib/history-phase.js';
import { describeMachine, load } from './lib/machine.js';
import {
  drainPhase,
  memoryPhase,
  servePhases,
  apiAlonePhase,
  type BenchConfig,
  type BullmqFigure,
  type Ctx,
  type DrainFigure,
  type MemoryFigure,
  type RawFigure,
  type ServeFigures,
} from './lib/phases.js';
import { BenchReceiver } from './lib/receiver.js';
import { appendResults, renderTable } from './lib/report.js';

function int(name: string, dflt: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}`);
  return n;
}

const ALL_PHASES = [
  'raw',
  'bullmq',
  'drain',
  'latency',
  'retry',
  'isolation',
  'api',
  'memory',
  'fairness',
  'rate',
  'ordering',
  // Last: its million finished deliveries would otherwise weigh on every later figure.
  'history',
];
const full = process.env.BENCH_FULL === '1';
const config: BenchConfig = {
  backlog: int('BENCH_BACKLOG', 50_000),
  webhooks: int('BENCH_WEBHOOKS', 20),
  seconds: int('BENCH_SECONDS', 10),
  rate: int('BENCH_RATE', 500),
  // 64 in flight, as many as the BullMQ peer's worker (figure 1b) is given.
  concurrency: int('BENCH_CONCURRENCY', 64),
  rawConcurrency: int('BENCH_RAW_CONCURRENCY', 32),
  redisUrl: process.env.BENCH_REDIS_URL?.trim() || 'redis://127.0.0.1:6379',
  latencyOrgs: int('BENCH_LATENCY_ORGS', 1),
  workerThreads: int('BENCH_WORKER_THREADS', 1),
  timeoutMs: int('BENCH_TIMEOUT_MS', 10_000, 100),
  memoryBacklog: int('BENCH_MEMORY_BACKLOG', full ? 1_000_000 : 100_000),
  memoryDrainSeconds: int('BENCH_MEMORY_DRAIN_SECONDS', full ? 1_800 : 180),
  history: int('BENCH_HISTORY', 1_000_000),
  apiConnections: int('BENCH_API_CONNECTIONS', 10),
  // Figure 7b; 1 skips it.
  apiOrgs: int('BENCH_API_ORGS', 10),
  retryRate: int('BENCH_RETRY_RATE', 5),
  isolationRate: int('BENCH_ISOLATION_RATE', 50),
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'info',
  profile: process.env.BENCH_PROFILE === '1',
  phases: new Set(
    (process.env.BENCH_ONLY ?? ALL_PHASES.join(','))
      .split(',')
      .map((s) => s.trim())
      .filter((s) => ALL_PHASES.includes(s)),
  ),
};
const args = process.argv.slice(2);
const record = args.includes('--record');
const labelAt = args.indexOf('--label');
const label = labelAt >= 0 ? (args[labelAt + 1] ?? '') : '';

const log = (line: string) => process.stderr.write(`${line}\n`);

export interface DialectResult {
  dialect: 'sqlite' | 'postgres';
  raw: RawFigure | null;
  bullmq: BullmqFigure | null;
  drain: DrainFigure | null;
  serve: ServeFigures | null;
  memory: MemoryFigure | null;
  fairness: FairnessFigure | null;
  rate: RateFigure | null;
  ordering: OrderingFigure | null;
  history: HistoryFigure | null;
  loadBefore: string;
  loadAfter: string;
  startedAt: string;
  seconds: number;
}

function postgresAdminUrl(): string | undefined {
  const url = process.env.DATABASE_URL?.trim();
  return url && /^postgres(ql)?:\/\//.test(url) ? url : undefined;
}

function build(): void {
  if (process.env.BENCH_BUILD === '0' || process.env.BENCH_MAIN) {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build`);
    return;
  }
  log('building (npm run build)…');
  try {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  } catch (error) {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw error;
    log('warning: the build reported errors; benchmarking the JavaScript it emitted anyway');
  }
}

async function adminQuery(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

let cleanups: (() => Promise<void>)[] = [];

async function runDialect(
  dialect: 'sqlite' | 'postgres',
  receiver: BenchReceiver,
  adminUrl: string | undefined,
): Promise<DialectResult> {
  const started = Date.now();
  const result: DialectResult = {
    dialect,
    raw: null,
    bullmq: null,
    drain: null,
    serve: null,
    memory: null,
    fairness: null,
    rate: null,
    ordering: null,
    history: null,
    loadBefore: load(),
    loadAfter: '',
    startedAt: new Date(started).toISOString(),
    seconds: 0,
  };
  const workDir = mkdtempSync(join(tmpdir(), `hookdesk-bench-${dialect}-`));
  const profileDir = join(ROOT, 'bench/profiles');
  if (config.profile) mkdirSync(profileDir, { recursive: true });
  let databaseUrl: string;
  let drop: (() => Promise<void>) | null = null;
  if (dialect === 'sqlite') {
    databaseUrl = `sqlite:${join(workDir, 'bench.db')}`;
  } else {
    const name = `hookdesk_bench_${process.pid}_${Date.now().toString(36)}`;
    await adminQuery(adminUrl!, `create database ${name}`);
    const u = new URL(adminUrl!);
    u.pathname = `/${name}`;
    databaseUrl = u.toString();
    drop = () => adminQuery(adminUrl!, `drop database if exists ${name} with (force)`);
  }
  const removeWorkDir = async () => {
    if (process.env.BENCH_KEEP !== '1') rmSync(workDir, { recursive: true, force: true });
  };
  cleanups.push(removeWorkDir);
  if (drop) cleanups.push(drop);
  log(`\n== ${dialect}: ${databaseUrl.replace(/\/\/[^@]*@/, '//')} (logs in ${workDir})`);
  const database = openDatabase(databaseUrl);
  try {
    await migrate(database, systemClock);
    const ctx: Ctx = { config, dialect, databaseUrl, database, receiver, workDir, profileDir, log };
    if (['raw', 'bullmq', 'drain'].some((p) => config.phases.has(p))) {
      const { raw, bullmq, drain } = await drainPhase(ctx);
      result.raw = raw;
      result.bullmq = bullmq;
      result.drain = drain;
    }
    if (['latency', 'retry', 'isolation', 'api'].some((p) => config.phases.has(p))) {
      result.serve = await servePhases(ctx, await freePort());
      if (config.phases.has('api')) {
        const alone = await apiAlonePhase(ctx, await freePort());
        result.serve.apiAlone = alone.one;
        result.serve.apiAloneSpread = alone.spread;
      }
    }
    if (config.phases.has('memory')) result.memory = await memoryPhase(ctx, full);
    if (config.phases.has('fairness')) result.fairness = await fairnessPhase(ctx, await freePort());
    if (config.phases.has('rate')) result.rate = await ratePhase(ctx, result.drain);
    if (config.phases.has('ordering')) result.ordering = await orderingPhase(ctx, result.drain);
    // Figure 2's rate on the fresh database is its baseline.
    if (config.phases.has('history')) result.history = await historyPhase(ctx, result.drain);
  } finally {
    await database.close();
    for (const c of [drop, removeWorkDir]) {
      if (!c) continue;
      await c().catch((e: unknown) => log(`cleanup: ${String(e)}`));
      cleanups = cleanups.filter((x) => x !== c);
    }
  }
  result.loadAfter = load();
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

async function main(): Promise<void> {
  const adminUrl = postgresAdminUrl();
  if (process.env.DATABASE_URL && !adminUrl && !process.env.DATABASE_URL.startsWith('sqlite:'))
    throw new Error('DATABASE_URL must be postgres://… (or unset)');
  const dialects: ('sqlite' | 'postgres')[] = [];
  if (process.env.BENCH_SQLITE !== '0') dialects.push('sqlite');
  if (adminUrl) dialects.push('postgres');
  build();
  const machine = await describeMachine(adminUrl);
  log(
    `machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGb} GB, node ${machine.node}; load ${load()}`,
  );
  const receiver = await new BenchReceiver().start();
  cleanups.push(() => receiver.close());
  const results: DialectResult[] = [];
  try {
    for (const d of dialects) results.push(await runDialect(d, receiver, adminUrl));
  } finally {
    await receiver.close();
  }
  for (const r of results) process.stdout.write(`\n${renderTable(r, config, machine)}\n`);
  if (record) {
    const file = await appendResults(results, config, machine, label);
    log(`\nappended to ${file}`);
  }
}

// Ctrl-C: drop the PostgreSQL database and remove temporary files before leaving.
process.once('SIGINT', () => {
  log('interrupted; cleaning up');
  void Promise.allSettled(cleanups.map((c) => c())).then(() => process.exit(130));
});

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    log(`bench failed: ${(error as Error)?.stack ?? String(error)}`);
    await Promise.allSettled(cleanups.map((c) => c()));
    process.exit(1);
  },
);
