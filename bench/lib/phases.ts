/**
 * The measurements. Each phase sets up its own organization and webhooks on
 * the run's fresh database, drives real `hookdesk` processes, and returns
 * plain numbers; bench/run.ts prints and records them.
 */
import { fork } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { request } from 'undici';
import type { DatabaseHandle } from '../../src/db/dialect.js';
import { sql } from 'kysely';
import { HookdeskProcess, CA_FILE, cpuMs, sleep, until } from './hookdesk.js';
import { openLoop, type LoadResult } from './load.js';
import type { BullmqJob, BullmqResult } from './bullmq-process.js';
import type { RawJob, RawResult } from './raw-client-process.js';
import type { BenchReceiver } from './receiver.js';
import { redisAnswers, redisWhere } from './redis.js';
import { BENCH_SECRET, createOrg, insertBacklog, insertWebhooks, type Org } from './seed.js';
import { percentile } from './stats.js';

export interface BenchConfig {
  backlog: number;
  webhooks: number;
  seconds: number;
  rate: number;
  concurrency: number;
  /** Organizations figure 3's tickets are spread over, one webhook each. */
  latencyOrgs: number;
  /** Requests in flight of the raw client (figure 1). */
  rawConcurrency: number;
  /** The Redis of the BullMQ peer (figure 1b). */
  redisUrl: string;
  /** HOOKDESK_WORKER_THREADS of every Hookdesk process. */
  workerThreads: number;
  timeoutMs: number;
  memoryBacklog: number;
  memoryDrainSeconds: number;
  /** Finished deliveries of figure 9's history. */
  history: number;
  apiConnections: number;
  apiOrgs: number;
  retryRate: number;
  isolationRate: number;
  logLevel: string;
  profile: boolean;
  phases: Set<string>;
}

export interface Ctx {
  config: BenchConfig;
  dialect: 'sqlite' | 'postgres';
  databaseUrl: string;
  database: DatabaseHandle;
  receiver: BenchReceiver;
  workDir: string;
  profileDir: string;
  log: (line: string) => void;
}

const RAW_ENTRY = fileURLToPath(new URL('./raw-client-process.ts', import.meta.url));
const BULLMQ_ENTRY = fileURLToPath(new URL('./bullmq-process.ts', import.meta.url));

export interface RawFigure extends RawResult {
  concurrency: number;
  /** Receiver CPU while the raw client sent, ms. */
  receiverCpuMs: number;
}

export interface BullmqRun extends BullmqResult {
  skipped: null;
  /** "host:port" of the Redis it used. */
  redis: string;
  /** The Worker's concurrency: BENCH_CONCURRENCY, as Hookdesk's. */
  concurrency: number;
  /** Receiver CPU while the peer ran, ms. */
  receiverCpuMs: number;
}

/** Figure 1b, or why it was skipped. */
export type BullmqFigure = BullmqRun | { skipped: string };

export interface DrainFigure {
  backlog: number;
  webhooks: number;
  seconds: number;
  perSecond: number;
  succeeded: number;
  attempts: number;
  duplicates: number;
  peakRssMb: number;
  /** TLS connections the worker opened to the receiver. */
  connections: number;
  /** CPU used while draining, ms: the worker process, the receiver, and the database server's backends (PostgreSQL). */
  workerCpuMs: number;
  receiverCpuMs: number;
  dbCpuMs: number;
  profile: string | null;
}

export interface LatencyFigure {
  rate: number;
  load: Omit<LoadResult, 'apiLatencies' | 'statusCodes'> & { apiP99: number };
  count: number;
  missing: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface RetryFigure {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

export interface IsolationFigure {
  rate: number;
  count: number;
  missing: number;
  hung: number;
  p50: number;
  p99: number;
  max: number;
}

export interface MemoryFigure {
  backlog: number;
  full: boolean;
  insertSeconds: number;
  startRssMb: number;
  peakRssMb: number;
  delivered: number;
  drained: boolean;
  drainSeconds: number;
}

export interface ApiFigure {
  connections: number;
  seconds: number;
  requestsPerSecond: number;
  total: number;
  p50: number;
  p99: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Count per HTTP status, so a non-2xx says what it was. */
  statusCodes: Record<string, number>;
  /** Organizations the requests were spread over, round robin. */
  organizations: number;
}

export interface ServeFigures {
  latency: LatencyFigure | null;
  retry: RetryFigure | null;
  isolation: IsolationFigure | null;
  api: ApiFigure | null;
  /** Figure 7b: the same requests spread over `apiOrgs` organizations. */
  apiSpread: ApiFigure | null;
  /** Figures 7c and 7d: 7 and 7b against `hookdesk api` alone, no worker sharing the machine. */
  apiAlone: ApiFigure | null;
  apiAloneSpread: ApiFigure | null;
}

/**
 * Receiver groups (first path segment) of this run's dialect: the receiver is
 * shared by both dialects, so each counts its own arrivals.
 */
function groups(ctx: Ctx) {
  const g = (name: string) => `${ctx.dialect}-${name}`;
  return {
    drain: g('drain'),
    mem: g('mem'),
    lat: g('lat'),
    retry: g('retry'),
    iso: g('iso'),
    api: g('api'),
  };
}

export function hookdeskEnv(ctx: Ctx, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: ctx.databaseUrl,
    HOOKDESK_WORKER_CONCURRENCY: String(ctx.config.concurrency),
    HOOKDESK_WORKER_THREADS: String(ctx.config.workerThreads),
    HOOKDESK_DELIVERY_TIMEOUT_MS: String(ctx.config.timeoutMs),
    LOG_LEVEL: ctx.config.logLevel,
    ...extra,
  };
}

async function outstanding(ctx: Ctx, webhookIds: readonly string[]): Promise<number> {
  const row = await ctx.database.db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', 'in', ['pending', 'delivering'])
    .where('webhook_id', 'in', webhookIds)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function countWhere(
  ctx: Ctx,
  webhookIds: readonly string[],
  status: 'succeeded',
): Promise<number> {
  const row = await ctx.database.db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', status)
    .where('webhook_id', 'in', webhookIds)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function attemptCount(ctx: Ctx, webhookIds: readonly string[]): Promise<number> {
  const row = await ctx.database.db
    .selectFrom('delivery_attempts')
    .innerJoin('deliveries', 'deliveries.id', 'delivery_attempts.delivery_id')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('deliveries.webhook_id', 'in', webhookIds)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** CPU used so far by each PostgreSQL backend serving the run's database (none on SQLite). */
async function backendsCpu(ctx: Ctx): Promise<Map<number, number>> {
  if (ctx.dialect !== 'postgres') return new Map();
  const { rows } = await sql<{ pid: number }>`
    select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
  `.execute(ctx.database.db);
  return new Map(rows.map((r) => [r.pid, cpuMs(r.pid)]));
}

function cpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) if (Number.isFinite(ms)) total += ms - (before.get(pid) ?? 0);
  return total;
}

function newestProfile(dir: string, before: Set<string>): string | null {
  try {
    const added = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
    return added.length > 0 ? join(dir, added.sort().at(-1)!) : null;
  } catch {
    return null;
  }
}

function listProfiles(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir));
  } catch {
    return new Set();
  }
}

/**
 * Runs one of the bench's own sender processes (raw client, BullMQ peer):
 * forked, given its job as one message, answering with one message.
 */
async function runForked<J extends { maxSeconds: number }, R>(
  entry: string,
  job: J,
  what: string,
): Promise<R> {
  const child = fork(entry, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const reply = await new Promise<{ ok: boolean; result?: R; error?: string }>(
    (resolve, reject) => {
      const timer = setTimeout(
        () => {
          child.kill('SIGKILL');
          reject(new Error(`${what} did not finish in time`));
        },
        (job.maxSeconds + 120) * 1000,
      );
      child.once('message', (m: { ok: boolean; result?: R; error?: string }) => {
        clearTimeout(timer);
        resolve(m);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${what} exited (${code})`));
      });
      child.send(job);
    },
  );
  if (!reply.ok || !reply.result) throw new Error(`${what} failed: ${reply.error}`);
  return reply.result;
}

/** Figure 1: the same backlog's payloads, POSTed straight from undici, no storage. */
async function rawCeiling(ctx: Ctx, webhookIds: string[]): Promise<RawFigure> {
  const job: RawJob = {
    databaseUrl: ctx.databaseUrl,
    webhookIds,
    concurrency: ctx.config.rawConcurrency,
    caFile: CA_FILE,
    maxSeconds: Math.max(60, ctx.config.seconds * 6),
  };
  const result = await runForked<RawJob, RawResult>(RAW_ENTRY, job, 'raw client');
  return { ...result, concurrency: ctx.config.rawConcurrency, receiverCpuMs: NaN };
}

/** Figure 1b: the same backlog sent by a BullMQ worker through the same undici code. */
async function bullmqPeer(ctx: Ctx, webhookIds: string[]): Promise<BullmqRun> {
  const job: BullmqJob = {
    databaseUrl: ctx.databaseUrl,
    webhookIds,
    concurrency: ctx.config.concurrency,
    caFile: CA_FILE,
    maxSeconds: Math.max(60, ctx.config.seconds * 6),
    redisUrl: ctx.config.redisUrl,
    queueName: `hookdesk-bench-${ctx.dialect}-${process.pid}-${Date.now().toString(36)}`,
  };
  const result = await runForked<BullmqJob, BullmqResult>(BULLMQ_ENTRY, job, 'BullMQ peer');
  return {
    ...result,
    skipped: null,
    redis: redisWhere(ctx.config.redisUrl),
    concurrency: ctx.config.concurrency,
    receiverCpuMs: NaN,
  };
}

/**
 * Figures 1, 1b and 2: a backlog over N webhooks; the raw ceiling and the
 * BullMQ peer send its payloads, then a Hookdesk worker drains it.
 */
export async function drainPhase(
  ctx: Ctx,
): Promise<{ raw: RawFigure | null; bullmq: BullmqFigure | null; drain: DrainFigure | null }> {
  const { config, receiver } = ctx;
  const G = groups(ctx);
  const org = await createOrg(ctx.database, 'drain');
  const hooks = await insertWebhooks(
    ctx.database,
    org.organizationId,
    Array.from({ length: config.webhooks }, (_, i) => receiver.url(`/${G.drain}/${i}`)),
  );
  ctx.log(`  inserting ${config.backlog.toLocaleString()} pending deliveries…`);
  const insertMs = await insertBacklog(ctx.databaseUrl, org.organizationId, hooks, config.backlog);
  ctx.log(`  inserted in ${(insertMs / 1000).toFixed(1)} s`);

  let raw: RawFigure | null = null;
  if (config.phases.has('raw')) {
    ctx.log(`  raw ceiling: undici, ${config.rawConcurrency} concurrent…`);
    const receiverCpu0 = cpuMs(receiver.pid);
    raw = await rawCeiling(ctx, hooks);
    raw.receiverCpuMs = cpuMs(receiver.pid) - receiverCpu0;
    ctx.log(
      `  raw ceiling: ${raw.perSecond.toFixed(0)} req/s (${raw.ok} ok, ${raw.failed} failed)`,
    );
    await receiver.clear(G.drain);
  }
  let bullmq: BullmqFigure | null = null;
  if (config.phases.has('bullmq')) {
    const where = redisWhere(config.redisUrl);
    if (!(await redisAnswers(config.redisUrl))) {
      ctx.log(`  BullMQ peer skipped: no Redis at ${where}`);
      bullmq = { skipped: `no Redis at ${where}` };
    } else {
      ctx.log(
        `  BullMQ peer: one worker process, ${config.concurrency} concurrent, Redis at ${where}…`,
      );
      const receiverCpu0 = cpuMs(receiver.pid);
      const run = await bullmqPeer(ctx, hooks);
      run.receiverCpuMs = cpuMs(receiver.pid) - receiverCpu0;
      bullmq = run;
      ctx.log(
        `  BullMQ peer: ${run.perSecond.toFixed(0)} deliveries/s (${run.completed} completed, ${run.failed} failed)`,
      );
      await receiver.clear(G.drain);
    }
  }
  if (!config.phases.has('drain')) return { raw, bullmq, drain: null };

  ctx.log(
    `  draining with a hookdesk worker (concurrency ${config.concurrency}, ${config.workerThreads} delivery thread(s))…`,
  );
  const drain = await measureDrain(ctx, {
    group: G.drain,
    hooks,
    backlog: config.backlog,
    logName: 'drain-worker',
    profile: config.profile,
  });
  return { raw, bullmq, drain };
}

export interface DrainRun {
  /** The receiver group (first path segment) the backlog's webhooks point at. */
  group: string;
  hooks: string[];
  backlog: number;
  /** The worker's log file, without `.log`, in the run's directory. */
  logName: string;
  /** Extra environment of the worker. */
  env?: Record<string, string>;
  profile?: boolean;
  /** Runs once the worker has started, before anything is measured (say, to make the backlog due). */
  started?: (worker: HookdeskProcess) => Promise<void>;
  /** Runs the moment the backlog is drained, the worker still running. */
  drained?: (worker: HookdeskProcess) => Promise<void>;
}

/**
 * Figure 2's measure, for any pending backlog: one `hookdesk worker` drains
 * it; deliveries/s = deliveries recorded `succeeded` ÷ time from the first
 * arrival at the receiver until the database shows none of them pending or
 * delivering.
 */
export async function measureDrain(ctx: Ctx, run: DrainRun): Promise<DrainFigure> {
  const { config, receiver } = ctx;
  const { group, hooks, backlog } = run;
  const before = listProfiles(ctx.profileDir);
  const connectionsBefore = await receiver.connections();
  const worker = new HookdeskProcess({
    command: 'worker',
    env: hookdeskEnv(ctx, run.env),
    logFile: join(ctx.workDir, `${run.logName}.log`),
    profileDir: run.profile ? ctx.profileDir : undefined,
    cwd: ctx.workDir,
  });
  try {
    await worker.waitForLog('delivery worker started', 30_000, config.workerThreads);
    await run.started?.(worker);
    const workerCpu0 = worker.cpuMs();
    const receiverCpu0 = cpuMs(receiver.pid);
    const db0 = await backendsCpu(ctx);
    const bound = 60_000 + (backlog / 100) * 1000; // generous: 100 deliveries/s at worst
    const arrived = await until(
      async () => (await receiver.count(group)) >= backlog || !worker.running,
      bound,
      200,
    );
    if (!arrived || !worker.running) {
      throw new Error(
        `${run.logName}: the receiver got ${await receiver.count(group)}/${backlog} deliveries\n${worker.log().slice(-2000)}`,
      );
    }
    await until(async () => (await outstanding(ctx, hooks)) === 0, 30_000, 25);
    const doneAt = Date.now();
    const workerCpuMs = worker.cpuMs() - workerCpu0;
    const receiverCpuMs = cpuMs(receiver.pid) - receiverCpu0;
    const dbCpuMs = cpuSince(db0, await backendsCpu(ctx));
    const peakRssMb = worker.memory()?.peakMb ?? NaN;
    const stats = await receiver.stats(group);
    const seconds = (doneAt - stats.firstAt) / 1000;
    await run.drained?.(worker);
    await worker.stop();
    const succeeded = await countWhere(ctx, hooks, 'succeeded');
    const attempts = await attemptCount(ctx, hooks);
    return {
      backlog,
      webhooks: hooks.length,
      seconds,
      perSecond: succeeded / seconds,
      succeeded,
      attempts,
      duplicates: stats.count - backlog,
      peakRssMb,
      connections: (await receiver.connections()) - connectionsBefore,
      workerCpuMs,
      receiverCpuMs,
      dbCpuMs,
      profile: run.profile ? newestProfile(ctx.profileDir, before) : null,
    };
  } finally {
    await worker.stop();
  }
}

export async function api<T>(
  base: string,
  key: string,
  method: 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await request(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${path} → ${res.statusCode}: ${text}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

interface LogLine {
  msg?: string;
  deliveryId?: string;
  webhookId?: string;
  attempt?: number;
  status?: string;
  nextAttemptAt?: number | null;
}

/** Figure 4 from the server's own log and attempt records: scheduled retry time vs attempt start. */
async function retryErrors(ctx: Ctx, serveLog: string, hookIds: Set<string>): Promise<number[]> {
  const scheduled = new Map<string, number>();
  for (const line of serveLog.split('\n')) {
    if (!line.includes('"delivery attempt"')) continue;
    let l: LogLine;
    try {
      l = JSON.parse(line) as LogLine;
    } catch {
      continue;
    }
    if (l.status !== 'pending' || typeof l.nextAttemptAt !== 'number') continue;
    if (!l.webhookId || !hookIds.has(l.webhookId) || !l.deliveryId || !l.attempt) continue;
    scheduled.set(`${l.deliveryId}:${l.attempt + 1}`, l.nextAttemptAt);
  }
  const ids = [...new Set([...scheduled.keys()].map((k) => k.split(':')[0]!))];
  const errors: number[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await ctx.database.db
      .selectFrom('delivery_attempts')
      .select(['delivery_id', 'number', 'started_at'])
      .where('delivery_id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const r of rows) {
      const due = scheduled.get(`${r.delivery_id}:${r.number}`);
      if (due !== undefined) errors.push(Math.abs(Number(r.started_at) - due));
    }
  }
  return errors;
}

/** Figures 3, 4, 5 and 7 against one `hookdesk serve` (API and worker in one process). */
export async function servePhases(ctx: Ctx, port: number): Promise<ServeFigures> {
  const { config, receiver } = ctx;
  const G = groups(ctx);
  const out: ServeFigures = {
    latency: null,
    retry: null,
    isolation: null,
    api: null,
    apiSpread: null,
    apiAlone: null,
    apiAloneSpread: null,
  };
  const latencyOrgs: Org[] = [];
  for (let i = 0; i < config.latencyOrgs; i++)
    latencyOrgs.push(await createOrg(ctx.database, `latency-${i}`));
  const orgs = {
    retry: await createOrg(ctx.database, 'retry'),
    iso: await createOrg(ctx.database, 'isolation'),
    api: await createOrg(ctx.database, 'api'),
  };
  // Figure 7b: on PostgreSQL one organization's tickets queue on its numbering
  // row; these show what the API takes when that lock is not the limit.
  const spreadOrgs: Org[] = [];
  if (config.phases.has('api') && config.apiOrgs > 1)
    for (let i = 0; i < config.apiOrgs; i++)
      spreadOrgs.push(await createOrg(ctx.database, `api-spread-${i}`));
  const serve = new HookdeskProcess({
    command: 'serve',
    // Figure 4 reads each retry's scheduled time from the attempt log lines.
    env: hookdeskEnv(ctx, { PORT: String(port), LOG_LEVEL: 'info' }),
    logFile: join(ctx.workDir, 'serve.log'),
    profileDir: config.profile ? ctx.profileDir : undefined,
    cwd: ctx.workDir,
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await serve.waitForLog('delivery worker started', 30_000, ctx.config.workerThreads);
    const hook = (key: string, url: string, extra: Record<string, unknown> = {}) =>
      api<{ id: string }>(base, key, 'POST', '/api/webhooks', {
        name: 'bench',
        url,
        events: ['ticket.created'],
        secret: BENCH_SECRET,
        ...extra,
      });
    for (const [i, org] of latencyOrgs.entries())
      await hook(org.apiKey, receiver.url(`/${G.lat}/${i}`));
    const retryHooks = new Set<string>();
    for (let i = 0; i < 4; i++)
      retryHooks.add(
        (await hook(orgs.retry.apiKey, receiver.url(`/${G.retry}/${i}`), { retryPolicy: [1, 2] }))
          .id,
      );
    const hangPath = `/${G.iso}/hang`;
    for (let i = 0; i < 9; i++) await hook(orgs.iso.apiKey, receiver.url(`/${G.iso}/${i}`));
    await hook(orgs.iso.apiKey, receiver.url(hangPath));
    for (let i = 0; i < 5; i++) await hook(orgs.api.apiKey, receiver.url(`/${G.api}/${i}`));
    for (const [k, org] of spreadOrgs.entries())
      for (let i = 0; i < 5; i++) await hook(org.apiKey, receiver.url(`/${G.api}/${k}-${i}`));

    if (config.phases.has('latency')) {
      ctx.log(`  latency: ${config.rate} events/s for ${config.seconds} s…`);
      await receiver.configure({ latency: [G.lat] });
      const load = await openLoop({
        baseUrl: base,
        apiKeys: latencyOrgs.map((o) => o.apiKey),
        rate: config.rate,
        seconds: config.seconds,
        label: 'latency',
      });
      await until(async () => (await receiver.count(G.lat)) >= load.created, 20_000, 100);
      const lat = await receiver.stats(G.lat);
      if (process.env.BENCH_DEBUG === '1')
        writeFileSync(join(ctx.workDir, 'latencies.json'), JSON.stringify(lat.latencies));
      const { apiLatencies, statusCodes: _codes, ...loadNumbers } = load;
      out.latency = {
        rate: config.rate,
        load: { ...loadNumbers, apiP99: percentile(apiLatencies, 99) },
        count: lat.latencies.length,
        missing: load.created - lat.count,
        p50: percentile(lat.latencies, 50),
        p95: percentile(lat.latencies, 95),
        p99: percentile(lat.latencies, 99),
        max: Math.max(...lat.latencies),
      };
      ctx.log(`  latency p99 ${out.latency.p99} ms over ${out.latency.count}`);
    }

    // Retries run while the worker is busy with the isolation load (when that runs).
    const retries = config.phases.has('retry');
    const isolation = config.phases.has('isolation');
    let isolationLoad: LoadResult | null = null;
    if (retries || isolation) {
      ctx.log(
        [
          isolation &&
            `  isolation: ${config.isolationRate} events/s × 10 webhooks, one endpoint never answers (timeout ${config.timeoutMs} ms)`,
          retries &&
            `  retries: ${config.retryRate} events/s × 4 webhooks, each first attempt answered 500`,
        ]
          .filter(Boolean)
          .join(';\n') + '…',
      );
      await receiver.configure({
        latency: isolation ? [G.iso] : [],
        hang: isolation ? [hangPath] : [],
        failFirst: retries ? [G.retry] : [],
      });
      const [isoLoad, retryLoad] = await Promise.all([
        isolation
          ? openLoop({
              baseUrl: base,
              apiKeys: [orgs.iso.apiKey],
              rate: config.isolationRate,
              seconds: config.seconds,
              label: 'isolation',
            })
          : null,
        retries
          ? openLoop({
              baseUrl: base,
              apiKeys: [orgs.retry.apiKey],
              rate: config.retryRate,
              seconds: config.seconds,
              label: 'retry',
            })
          : null,
      ]);
      isolationLoad = isoLoad;
      if (retryLoad) {
        // Every retry delivery arrives twice (500, then 200 one second later).
        await until(
          async () => (await receiver.count(G.retry)) >= retryLoad.created * 4 * 2,
          20_000,
          200,
        );
        await sleep(500); // the last outcomes are recorded
        const errors = await retryErrors(ctx, serve.log(), retryHooks);
        out.retry = {
          samples: errors.length,
          p50: percentile(errors, 50),
          p99: percentile(errors, 99),
          max: errors.length ? Math.max(...errors) : NaN,
        };
        ctx.log(`  retry |error| p99 ${out.retry.p99} ms over ${out.retry.samples}`);
      }
    }

    if (isolation) {
      const healthy = async () => {
        const s = await receiver.stats(G.iso);
        return Object.entries(s.byPath)
          .filter(([p]) => p !== hangPath)
          .reduce((n, [, c]) => n + c, 0);
      };
      const created = isolationLoad?.created ?? 0;
      await until(async () => (await healthy()) >= created * 9, 20_000, 100);
      const s = await receiver.stats(G.iso);
      const lat = Object.entries(s.latencyByPath)
        .filter(([p]) => p !== hangPath)
        .flatMap(([, l]) => l);
      out.isolation = {
        rate: config.isolationRate,
        count: lat.length,
        missing: created * 9 - (await healthy()),
        hung: s.byPath[hangPath] ?? 0,
        p50: percentile(lat, 50),
        p99: percentile(lat, 99),
        max: lat.length ? Math.max(...lat) : NaN,
      };
      await receiver.release();
      ctx.log(`  isolation p99 ${out.isolation.p99} ms over ${out.isolation.count}`);
    }

    if (config.phases.has('api')) {
      await receiver.configure({});
      out.api = await apiFigure(ctx, base, [orgs.api.apiKey]);
      if (spreadOrgs.length > 0)
        out.apiSpread = await apiFigure(
          ctx,
          base,
          spreadOrgs.map((o) => o.apiKey),
        );
    }
  } finally {
    await serve.stop();
  }
  return out;
}

/**
 * Figures 7c and 7d: figures 7 and 7b against a `hookdesk api` process with
 * no worker anywhere, so the API and its database have the machine to
 * themselves (in 7 and 7b the worker sends 5 deliveries per ticket on the
 * same cores). The deliveries they queue are cancelled afterwards (their
 * webhooks are deleted), so no later figure sends them.
 */
export async function apiAlonePhase(
  ctx: Ctx,
  port: number,
): Promise<{ one: ApiFigure; spread: ApiFigure | null }> {
  const G = groups(ctx);
  const orgs: Org[] = [];
  for (let i = 0; i < Math.max(1, ctx.config.apiOrgs); i++)
    orgs.push(await createOrg(ctx.database, `api-alone-${i}`));
  const proc = new HookdeskProcess({
    command: 'api',
    env: hookdeskEnv(ctx, { PORT: String(port) }),
    logFile: join(ctx.workDir, 'api-alone.log'),
    profileDir: ctx.config.profile ? ctx.profileDir : undefined,
    cwd: ctx.workDir,
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await proc.waitForLog(`Server listening at ${base}`, 30_000);
    const created: { key: string; id: string }[] = [];
    for (const [k, org] of orgs.entries())
      for (let i = 0; i < 5; i++) {
        const { id } = await api<{ id: string }>(base, org.apiKey, 'POST', '/api/webhooks', {
          name: 'bench',
          url: ctx.receiver.url(`/${G.api}/alone-${k}-${i}`),
          events: ['ticket.created'],
          secret: BENCH_SECRET,
        });
        created.push({ key: org.apiKey, id });
      }
    const what = ' (hookdesk api, no worker)';
    const one = await apiFigure(ctx, base, [orgs[0]!.apiKey], what);
    const spread =
      orgs.length > 1
        ? await apiFigure(
            ctx,
            base,
            orgs.map((o) => o.apiKey),
            what,
          )
        : null;
    for (const { key, id } of created) await api(base, key, 'DELETE', `/api/webhooks/${id}`);
    return { one, spread };
  } finally {
    await proc.stop();
  }
}

/** Figure 7 (7b with several keys): autocannon on POST /api/tickets, keys used round robin. */
async function apiFigure(ctx: Ctx, base: string, apiKeys: string[], what = ''): Promise<ApiFigure> {
  const { config } = ctx;
  const spread = (apiKeys.length > 1 ? ` over ${apiKeys.length} organizations` : '') + what;
  ctx.log(
    `  API${spread}: autocannon, ${config.apiConnections} connections, ${config.seconds} s, 5 webhooks subscribed…`,
  );
  let next = 0;
  const r = await autocannon({
    url: `${base}/api/tickets`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      subject: 'Load test ticket',
      requester: { email: 'autocannon@example.com' },
    }),
    requests: [
      {
        setupRequest: (req: Record<string, unknown>) => {
          const key = apiKeys[next++ % apiKeys.length];
          const headers = (req.headers ?? {}) as Record<string, string>;
          return { ...req, headers: { ...headers, authorization: `Bearer ${key}` } };
        },
      },
    ],
    connections: config.apiConnections,
    duration: config.seconds,
    timeout: 10,
  });
  ctx.log(`  API${spread} ${r.requests.average.toFixed(0)} req/s, p99 ${r.latency.p99} ms`);
  return {
    connections: config.apiConnections,
    seconds: config.seconds,
    requestsPerSecond: r.requests.average,
    total: r.requests.total,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    statusCodes: Object.fromEntries(
      Object.entries(r.statusCodeStats ?? {}).map(([code, v]) => [code, v.count]),
    ),
    organizations: apiKeys.length,
  };
}

/** Figure 6: a worker started on a large pending backlog; its peak RSS while it drains. */
export async function memoryPhase(ctx: Ctx, full: boolean): Promise<MemoryFigure> {
  const { config, receiver } = ctx;
  const G = groups(ctx);
  const org = await createOrg(ctx.database, 'memory');
  const hooks = await insertWebhooks(
    ctx.database,
    org.organizationId,
    Array.from({ length: config.webhooks }, (_, i) => receiver.url(`/${G.mem}/${i}`)),
  );
  ctx.log(`  memory: inserting ${config.memoryBacklog.toLocaleString()} pending deliveries…`);
  let lastReport = Date.now();
  const insertMs = await insertBacklog(
    ctx.databaseUrl,
    org.organizationId,
    hooks,
    config.memoryBacklog,
    (done) => {
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        ctx.log(`    ${done.toLocaleString()} inserted`);
      }
    },
  );
  ctx.log(`  inserted in ${(insertMs / 1000).toFixed(1)} s; starting a worker…`);
  const worker = new HookdeskProcess({
    command: 'worker',
    env: hookdeskEnv(ctx),
    logFile: join(ctx.workDir, 'memory-worker.log'),
    cwd: ctx.workDir,
  });
  try {
    await worker.waitForLog('delivery worker started', 60_000, config.workerThreads);
    const startRssMb = worker.memory()?.rssMb ?? NaN;
    const startedAt = Date.now();
    const bound = config.memoryDrainSeconds * 1000;
    await until(
      async () => !worker.running || (await receiver.count(G.mem)) >= config.memoryBacklog,
      bound,
      500,
    );
    const drained =
      worker.running &&
      (await until(async () => (await outstanding(ctx, hooks)) === 0, 30_000, 100));
    const drainSeconds = (Date.now() - startedAt) / 1000;
    const peakRssMb = worker.memory()?.peakMb ?? NaN;
    const delivered = await receiver.count(G.mem);
    return {
      backlog: config.memoryBacklog,
      full,
      insertSeconds: insertMs / 1000,
      startRssMb,
      peakRssMb,
      delivered,
      drained,
      drainSeconds,
    };
  } finally {
    await worker.stop();
  }
}
