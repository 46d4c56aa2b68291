/**
 * Figure 1b, the BullMQ peer, as its own process (like the worker it is
 * compared with): the same backlog sent by a BullMQ Worker through the same
 * undici code as the raw ceiling (signed-post.ts), to the same receiver.
 *
 * Not timed: reading the backlog, emptying this run's queue, and adding
 * every row as a job (`addBulk`, in chunks). Timed: from the first job the
 * worker starts until every job has completed (or finally failed), bounded
 * by `maxSeconds`. The job options are what a user of BullMQ would set for
 * webhook deliveries: Hookdesk's retry schedule as a custom backoff, and the
 * auto-removal BullMQ's documentation suggests for production. Redis keeps
 * what it keeps (on this machine, nothing on disk); no attempt log is
 * written anywhere.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { Queue, Worker } from 'bullmq';
import { cpuMs } from './hookdesk.js';
import { DEFAULT_POLICY } from './seed.js';
import { redisConnection, redisWhere } from './redis.js';
import { readBacklog, receiverAgent, signedPost, type SignedRow } from './signed-post.js';

export interface BullmqJob {
  databaseUrl: string;
  webhookIds: string[];
  /** The Worker's `concurrency`: jobs in flight at once. */
  concurrency: number;
  caFile: string;
  maxSeconds: number;
  redisUrl: string;
  /** Unique to the run, so nothing else's jobs are counted or removed. */
  queueName: string;
}

export interface BullmqResult {
  jobs: number;
  completed: number;
  /** Jobs that used up their attempts (none is expected: the receiver answers 200). */
  failed: number;
  /** Attempts that failed and were scheduled again. */
  retried: number;
  elapsedMs: number;
  perSecond: number;
  /** CPU time (user + system) of this process over the timed part, ms. */
  cpuMs: number;
  /** CPU time of the redis-server process over the timed part, ms (NaN if it is not visible here). */
  redisCpuMs: number;
  bullmqVersion: string;
  redisVersion: string;
  /** What Redis keeps on disk, from CONFIG GET: "no persistence", "RDB snapshots", "AOF (appendfsync …)". */
  persistence: string;
}

/** As BullMQ's auto-removal guide suggests: a handful of completed jobs, more failed ones. */
export const REMOVE_ON_COMPLETE = { count: 1000 };
export const REMOVE_ON_FAIL = { count: 5000 };
const ADD_CHUNK = 1000;
/** The first attempt plus one per retry of Hookdesk's default schedule. */
const ATTEMPTS = 1 + DEFAULT_POLICY.length;

function bullmqVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('bullmq/package.json') as { version: string }).version;
}

/** The redis-server process, for its CPU time: INFO's process_id if /proc shows it, else the one `pgrep` finds. */
function redisPid(infoPid: number): number | undefined {
  const isRedis = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'redis-server';
    } catch {
      return false;
    }
  };
  if (infoPid > 0 && isRedis(infoPid)) return infoPid;
  try {
    const pids = execFileSync('pgrep', ['-x', 'redis-server']).toString().trim().split('\n');
    return pids.length === 1 ? Number(pids[0]) : undefined;
  } catch {
    return undefined;
  }
}

async function describeRedis(
  queue: Queue,
): Promise<{ version: string; pid: number; persistence: string }> {
  const client = await queue.client;
  const info = await client.info(); // the default sections: Server and Persistence among them
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
  let persistence = 'persistence unknown';
  try {
    // BullMQ's default client is ioredis, whose `call` sends any command; CONFIG
    // may also be disabled (a managed Redis), and the figure then says "unknown".
    const call = (client as unknown as { call(...args: string[]): Promise<string[]> }).call.bind(
      client,
    );
    const save = (await call('CONFIG', 'GET', 'save'))[1] ?? '';
    const fsync = (await call('CONFIG', 'GET', 'appendfsync'))[1] ?? '?';
    const kinds = [
      save.trim() ? 'RDB snapshots' : '',
      field('aof_enabled') === '1' ? `AOF (appendfsync ${fsync})` : '',
    ];
    persistence = kinds.filter(Boolean).join(' + ') || 'no persistence';
  } catch {
    // keeps "persistence unknown"
  }
  return { version: field('redis_version') || '?', pid: Number(field('process_id')), persistence };
}

async function run(job: BullmqJob): Promise<BullmqResult> {
  const rows = await readBacklog(job.databaseUrl, job.webhookIds);
  const connection = redisConnection(job.redisUrl);
  const where = redisWhere(job.redisUrl);
  const queue = new Queue<SignedRow>(job.queueName, {
    connection,
    defaultJobOptions: {
      attempts: ATTEMPTS,
      backoff: { type: 'webhook-schedule' },
      removeOnComplete: REMOVE_ON_COMPLETE,
      removeOnFail: REMOVE_ON_FAIL,
    },
  });
  // Without a listener an 'error' event would throw; the first one is shown, and
  // a Redis that stays away surfaces as the timeout below or as jobs not done.
  let errorShown = false;
  const firstError = (e: Error) => {
    if (!errorShown) process.stderr.write(`BullMQ peer: ${e.message}\n`);
    errorShown = true;
  };
  queue.on('error', firstError);
  const ready = await Promise.race([
    queue.waitUntilReady().then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), 5_000).unref()),
  ]);
  if (!ready) throw new Error(`BullMQ peer: could not connect to Redis at ${where}`);
  try {
    return await deliverAll(job, rows, queue, firstError);
  } finally {
    // The run's queue leaves nothing behind in Redis, whatever happened.
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}

async function deliverAll(
  job: BullmqJob,
  rows: SignedRow[],
  queue: Queue<SignedRow>,
  onError: (e: Error) => void,
): Promise<BullmqResult> {
  const redis = await describeRedis(queue);
  const pid = redisPid(redis.pid);
  const connection = redisConnection(job.redisUrl);
  await queue.obliterate({ force: true });
  for (let i = 0; i < rows.length; i += ADD_CHUNK) {
    await queue.addBulk(rows.slice(i, i + ADD_CHUNK).map((data) => ({ name: 'deliver', data })));
  }

  const agent = receiverAgent(job.caFile);
  let firstStart = NaN;
  let lastEnd = NaN;
  let completed = 0;
  let failed = 0;
  let retried = 0;
  const worker = new Worker<SignedRow>(
    job.queueName,
    async (j) => {
      if (Number.isNaN(firstStart)) firstStart = performance.now();
      if (!(await signedPost(j.data, agent))) throw new Error('non-2xx answer');
    },
    {
      connection,
      concurrency: job.concurrency,
      autorun: false,
      settings: {
        // After attempt n fails, wait the schedule's n-th delay (the last one repeats).
        backoffStrategy: (attemptsMade: number) =>
          DEFAULT_POLICY[Math.min(attemptsMade, DEFAULT_POLICY.length) - 1]! * 1000,
      },
    },
  );
  worker.on('error', onError);
  let finish: () => void = () => {};
  const allDone = new Promise<void>((r) => (finish = r));
  const settled = () => {
    lastEnd = performance.now();
    if (completed + failed >= rows.length) finish();
  };
  worker.on('completed', () => {
    completed += 1;
    settled();
  });
  worker.on('failed', (j) => {
    // finishedOn is set only when the job has no attempt left.
    if (j?.finishedOn) failed += 1;
    else retried += 1;
    settled();
  });
  let cpu: NodeJS.CpuUsage;
  let redisCpuMs: number;
  let running: Promise<void> = Promise.resolve();
  try {
    await worker.waitUntilReady();
    const cpu0 = process.cpuUsage();
    const redisCpu0 = cpuMs(pid);
    running = worker.run();
    if (rows.length === 0) finish();
    const timer = setTimeout(finish, job.maxSeconds * 1000);
    await allDone;
    clearTimeout(timer);
    cpu = process.cpuUsage(cpu0);
    redisCpuMs = cpuMs(pid) - redisCpu0;
  } finally {
    await worker.close(true);
    await running.catch(() => {});
    await agent.close();
  }
  const elapsedMs = lastEnd - firstStart;
  return {
    jobs: rows.length,
    completed,
    failed,
    retried,
    elapsedMs,
    perSecond: (completed / elapsedMs) * 1000,
    cpuMs: (cpu.user + cpu.system) / 1000,
    redisCpuMs,
    bullmqVersion: bullmqVersion(),
    redisVersion: redis.version,
    persistence: redis.persistence,
  };
}

process.once('message', (job: BullmqJob) => {
  run(job).then(
    (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
    (error: unknown) =>
      process.send?.({ ok: false, error: String((error as Error)?.stack ?? error) }, () =>
        process.exit(1),
      ),
  );
});
