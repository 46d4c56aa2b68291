/**
 * Long-running modes: the API listener and/or the background roles (delivery
 * worker, jobs, retention), with a graceful shutdown on SIGTERM/SIGINT (stop
 * listening, stop claiming, let attempts in flight finish or release them,
 * close the database).
 *
 * `serve` (both) runs the background roles on a thread of their own
 * (./background-thread.ts); `worker` runs them on the main thread and never
 * loads the HTTP app. HOOKDESK_WORKER_THREADS > 1 adds delivery-only threads
 * to either: one thread's event loop tops out at a few thousand attempts per
 * second (bench/RESULTS.md).
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { systemClock } from '../clock.js';
import type { Config } from '../config.js';
import { createDeliveryContext, type DeliveryContext } from '../delivery/context.js';
import { createLogger } from '../logger.js';
import { Metrics } from '../metrics.js';
import { prepareDatabase, type Prepared } from './runtime.js';
import { listenStartupError } from './startup-errors.js';
import {
  splitSlots,
  startBackground,
  type Background,
  type BackgroundRoles,
  type Slots,
} from './background.js';
import { startBackgroundThread, type BackgroundThread } from './background-thread.js';

export interface Roles {
  api: boolean;
  worker: boolean;
}

/** What the process is once every role has started, for the start-up banner. */
export interface Running {
  roles: Roles;
  /** The port the API listens on (the real one when PORT=0); undefined without the API. */
  port: number | undefined;
  database: Prepared['database'];
}

/** Where runServer reports to the terminal (main.ts prints; logs never carry keys). */
export interface ServerHooks {
  /** The database is migrated: the first-start API key, if one was made. */
  onPrepared(p: Prepared): void;
  /** Every role has started. */
  onRunning(r: Running): void;
}

export async function runServer(config: Config, roles: Roles, hooks: ServerHooks): Promise<void> {
  const logger = createLogger(config.logLevel);
  const clock = systemClock;
  const prepared = await prepareDatabase(config, clock, { longRunning: true });
  hooks.onPrepared(prepared);
  const { database } = prepared;
  logger.info(
    { database: database.description, migrations: prepared.migrations.applied },
    'database ready',
  );

  const metrics = new Metrics(database.db, clock, { defaultMetrics: true });
  let delivery: DeliveryContext | null = null;
  let app: FastifyInstance | null = null;
  // Set before anything that takes time, so a signal during start-up still stops cleanly.
  let background: Promise<Started | null> = Promise.resolve(null);
  let stopping = false;
  const stop = (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const done = async () => {
      if (app) await app.close();
      // One still starting is waited for, then stopped; one that failed to start has nothing to stop.
      await (await background.catch(() => null))?.stop();
      await delivery?.close();
      await database.close();
    };
    done().then(
      () => process.exit(code),
      (error: unknown) => {
        logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  if (roles.api) {
    // Loaded only here: a worker-only process has no use for Fastify and the routes.
    const { buildApp } = await import('./app.js');
    delivery = createDeliveryContext(config);
    app = await buildApp({ config, database, clock, logger, delivery, metrics });
    try {
      await app.listen({ port: config.port, host: config.host });
    } catch (error) {
      // main.ts prints the one line and exits 1; nothing else has started yet.
      throw listenStartupError(error, config.host, config.port);
    }
  }

  if (stopping) return;
  const port = app ? (app.server.address() as AddressInfo).port : undefined;
  if (roles.worker) {
    const [first, ...others] = splitSlots(config, config.workerThreads);
    const thread = (threadRoles: BackgroundRoles, slots: Slots) =>
      startBackgroundThread({
        config,
        roles: threadRoles,
        slots,
        shared: database.shared,
        relayWakes: !database.dialect.capabilities.listenNotify,
        onFailure: (error) => {
          logger.fatal({ err: error }, 'a background thread failed; exiting');
          stop('background thread failure', 1);
        },
      });
    // `serve` keeps its main thread for the API: every background role runs on
    // a thread. `worker` runs them on its main thread. Either way,
    // HOOKDESK_WORKER_THREADS - 1 more threads run delivery workers only, and
    // the process's delivery slots are shared out between them all.
    const extra = others.map((slots) => thread('delivery', slots));
    const starting = roles.api ? [thread('all', first!), ...extra] : extra;
    const local = roles.api
      ? null
      : startBackground({ config, database, clock, logger, metrics, slots: first });
    const started = startedTogether(local, starting);
    background = started;
    for (const t of (await started).threads) metrics.addSource(() => t.metrics());
  }
  if (!stopping) hooks.onRunning({ roles, port, database });
}

interface Started extends Background {
  threads: BackgroundThread[];
}

/**
 * The process's background roles as one: stopped together. If a thread fails
 * to start, the ones that did are stopped and the failure is thrown.
 */
async function startedTogether(
  local: Background | null,
  starting: Promise<BackgroundThread>[],
): Promise<Started> {
  const settled = await Promise.allSettled(starting);
  const threads = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const all = [...(local ? [local] : []), ...threads];
  const stopAll = async () => {
    await Promise.all(all.map((b) => b.stop()));
  };
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  return { workerId: all.map((b) => b.workerId).join(','), threads, stop: stopAll };
}
