/**
 * Long-running modes: the API listener and/or the delivery worker, with a
 * graceful shutdown on SIGTERM/SIGINT (stop listening, stop claiming, let
 * attempts in flight finish or release them, close the database).
 */
import { systemClock } from '../clock.js';
import type { Config } from '../config.js';
import { createDeliveryContext } from '../delivery/context.js';
import { startRetention } from '../delivery/retention.js';
import { DeliveryWorker } from '../delivery/worker.js';
import { buildApp } from '../http/app.js';
import { jobHandlers } from '../jobs/handlers.js';
import { JobRunner } from '../jobs/runner.js';
import { createLogger } from '../logger.js';
import { createMailer } from '../mail/mailer.js';
import { Metrics } from '../metrics.js';
import { prepareDatabase, type Prepared } from '../runtime.js';

export interface Roles {
  api: boolean;
  worker: boolean;
}

export async function runServer(
  config: Config,
  roles: Roles,
  onPrepared: (p: Prepared) => void,
): Promise<void> {
  const logger = createLogger(config.logLevel);
  const clock = systemClock;
  const prepared = await prepareDatabase(config, clock);
  onPrepared(prepared);
  const { database } = prepared;
  logger.info(
    { database: database.description, migrations: prepared.migrations.applied },
    'database ready',
  );

  const delivery = createDeliveryContext(config);
  const metrics = new Metrics(database.db, clock, { defaultMetrics: true });
  const mailer = createMailer(config, logger);

  const app = roles.api
    ? await buildApp({ config, database, clock, logger, delivery, metrics })
    : null;
  if (app) await app.listen({ port: config.port, host: config.host });

  let worker: DeliveryWorker | null = null;
  let stopRetention: (() => void) | null = null;
  let jobs: JobRunner | null = null;
  if (roles.worker) {
    worker = new DeliveryWorker(
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
    jobs = new JobRunner({
      database,
      clock,
      logger,
      handlers: jobHandlers({ database, clock, logger, mailer }),
    });
    jobs.start();
    stopRetention = startRetention(database.db, clock, config.retentionDays, logger);
    logger.info(
      { workerId: worker.id, concurrency: config.workerConcurrency },
      'delivery worker started',
    );
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const done = async () => {
      if (app) await app.close();
      stopRetention?.();
      await worker?.stop();
      await jobs?.stop();
      await delivery.close();
      mailer.close();
      await database.close();
    };
    done().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
