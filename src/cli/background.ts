/**
 * The background roles of a process: the delivery worker, the job runner
 * and the retention pass. `hookdesk worker` runs them on its main thread;
 * `hookdesk serve` on a thread of their own (./background-thread.ts). Extra
 * delivery threads (HOOKDESK_WORKER_THREADS) run the delivery worker only.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { DatabaseHandle } from '../db/dialect.js';
import { createDeliveryContext } from '../delivery/context.js';
import { DEFAULT_PER_WEBHOOK, DeliveryWorker } from '../delivery/worker.js';
import { JobRunner } from '../jobs/runner.js';
import type { Logger } from '../logger.js';
import { createMailer } from '../mail/mailer.js';
import type { Metrics } from '../metrics.js';
import { jobHandlers } from './job-handlers.js';
import { startRetention } from './retention.js';

export interface Background {
  readonly workerId: string;
  /** Stops claiming, drains attempts in flight (see DeliveryWorker.stop), closes what it opened. */
  stop(): Promise<void>;
}

/**
 * `all`: every background role. `delivery`: only a delivery worker, for the
 * extra delivery threads of HOOKDESK_WORKER_THREADS; jobs and retention need
 * no more than one runner per process.
 */
export type BackgroundRoles = 'all' | 'delivery';

/** A delivery worker's slots: the process's, or one thread's share of them. */
export interface Slots {
  concurrency: number;
  perWebhook: number;
}

/**
 * The process's slots (HOOKDESK_WORKER_CONCURRENCY in all, DEFAULT_PER_WEBHOOK
 * per webhook) split between `threads` delivery workers as evenly as whole
 * numbers allow, at least one each.
 */
export function splitSlots(config: Config, threads: number): Slots[] {
  const split = (total: number, i: number) =>
    Math.max(1, Math.floor(total / threads) + (i < total % threads ? 1 : 0));
  return Array.from({ length: threads }, (_, i) => ({
    concurrency: split(config.workerConcurrency, i),
    perWebhook: split(DEFAULT_PER_WEBHOOK, i),
  }));
}

export function startBackground(deps: {
  config: Config;
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  roles?: BackgroundRoles;
  /** (Default: all of the process's: splitSlots(config, 1)[0]) */
  slots?: Slots;
}): Background {
  const { config, database, clock, logger, metrics } = deps;
  const slots = deps.slots ?? splitSlots(config, 1)[0]!;
  const all = (deps.roles ?? 'all') === 'all';
  const delivery = createDeliveryContext(config);
  const mailer = createMailer(config, logger);
  const worker = new DeliveryWorker(
    {
      database,
      clock,
      logger,
      dispatcher: delivery.dispatcher,
      metrics,
      databaseUrl: config.databaseUrl,
    },
    {
      ...slots,
      timeoutMs: config.deliveryTimeoutMs,
      slowSharePercent: config.workerSlowSharePercent,
    },
  );
  worker.start();
  const jobs = all
    ? new JobRunner({
        database,
        clock,
        logger,
        handlers: jobHandlers({ database, clock, logger, mailer }),
      })
    : null;
  jobs?.start();
  const stopRetention = all
    ? startRetention(database.db, clock, config.retentionDays, logger)
    : () => {};
  logger.info({ workerId: worker.id, ...slots }, 'delivery worker started');
  return {
    workerId: worker.id,
    async stop() {
      stopRetention();
      await worker.stop();
      await jobs?.stop();
      await delivery.close();
      mailer.close();
    },
  };
}
