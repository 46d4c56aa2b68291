/**
 * Long-running modes: the API listener and/or the background worker, with a
 * graceful shutdown on SIGTERM/SIGINT.
 */
import { systemClock } from '../clock.js';
import type { Config } from '../config.js';
import { buildApp } from '../http/app.js';
import { createLogger } from '../logger.js';
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
  const prepared = await prepareDatabase(config, systemClock);
  onPrepared(prepared);
  const { database } = prepared;
  logger.info(
    { database: database.description, migrations: prepared.migrations.applied },
    'database ready',
  );

  const app = roles.api ? await buildApp({ config, database, clock: systemClock, logger }) : null;
  if (app) {
    await app.listen({ port: config.port, host: config.host });
  }
  if (roles.worker) {
    // The delivery engine registers its loops here (issue 3); the process already
    // owns the database handle and the shutdown sequence they will share.
    logger.info('worker started');
  }
  // A worker-only process has no listener to keep it alive until a signal arrives.
  const keepAlive = app ? null : setInterval(() => {}, 2 ** 30);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const done = async () => {
      if (keepAlive) clearInterval(keepAlive);
      if (app) await app.close();
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
