/**
 * Entry of a background thread (./background-thread.ts): opens its own
 * connection to the database the main thread has already migrated, runs its
 * roles (all of them, or a delivery worker only), answers for its metrics,
 * and stops when told.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../clock.js';
import type { Config } from '../config.js';
import { openDatabase } from '../db/open.js';
import { emitLocalWake } from '../delivery/wake.js';
import { createLogger } from '../logger.js';
import { Metrics } from '../metrics.js';
import { startBackground, type BackgroundRoles, type Slots } from './background.js';
import type { FromThread, ToThread } from './background-thread.js';

const port = parentPort!;
const { config, shared, roles, slots } = workerData as {
  config: Config;
  shared: unknown;
  roles: BackgroundRoles;
  slots: Slots;
};
const send = (m: FromThread) => port.postMessage(m);

const logger = createLogger(config.logLevel).child({
  thread: roles === 'all' ? 'background' : 'delivery',
});
const database = openDatabase(config.databaseUrl, { shareWith: shared });
// Delivery counters only: the main thread's registry has the queue gauges and process metrics.
const metrics = new Metrics(database.db, systemClock, { queueGauges: false });
const background = startBackground({
  config,
  database,
  clock: systemClock,
  logger,
  metrics,
  roles,
  slots,
});

port.on('message', (m: ToThread) => {
  switch (m.type) {
    case 'wake':
      emitLocalWake();
      break;
    case 'metrics':
      void metrics.registry
        .getMetricsAsJSON()
        .then((snapshot) => send({ type: 'metrics', id: m.id, snapshot }));
      break;
    case 'stop':
      void background
        .stop()
        .catch((error: unknown) => logger.error({ err: error }, 'error while stopping'))
        .then(() => database.close())
        .finally(() => send({ type: 'stopped' }));
      break;
  }
});
send({ type: 'ready', workerId: background.workerId });
