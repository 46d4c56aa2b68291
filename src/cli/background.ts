/**
 * The background roles of a process: the delivery worker, the job runner
 * and the retention pass. `hookdesk worker` runs them on its main thread;
 * `hookdesk serve` on a thread of their own (./background-thread.ts).
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { DatabaseHandle } from '../db/dialect.js';
import { createDeliveryContext } from '../delivery/context.js';
import { startRetention } from '../delivery/retention.js';
import { DeliveryWorker } from '../delivery/worker.js';
import { jobHandlers } from '../jobs/handlers.js';
import { JobRunner } from '../jobs/runner.js';
import type { Logger } from '../logger.js';
import { createMailer } from '../mail/mailer.js';
import type { Metrics } from '../metrics.js';

export interface Background {
  readonly workerId: string;
  /** Stops claiming, drains attempts in flight (see DeliveryWorker.stop), closes what it opened. */
  stop(): Promise<void>;
}

export function startBackground(deps: {
  config: Config;
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
}): Background {
  const { config, database, clock, logger, metrics } = deps;
  const delivery = createDeliveryContext(config);
  const mailer = createMailer(config, logger);
  const worker = new DeliveryWorker(
    {
      database,
      clock,
      logger,
      mailer,
      dispatcher: delivery.dispatcher,
      metrics,
      databaseUrl: config.databaseUrl,
    },
    { concurrency: config.workerConcurrency, timeoutMs: config.deliveryTimeoutMs },
  );
  worker.start();
  const jobs = new JobRunner({
    database,
    clock,
    logger,
    handlers: jobHandlers({ database, clock, logger, mailer }),
  });
  jobs.start();
  const stopRetention = startRetention(database.db, clock, config.retentionDays, logger);
  logger.info(
    { workerId: worker.id, concurrency: config.workerConcurrency },
    'delivery worker started',
  );
  return {
    workerId: worker.id,
    async stop() {
      stopRetention();
      await worker.stop();
      await jobs.stop();
      await delivery.close();
      mailer.close();
    },
  };
}
