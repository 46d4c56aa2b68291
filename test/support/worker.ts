/** A delivery worker wired to a harness's database, clock and egress agent. */
import type { Clock } from '../../src/clock.js';
import type { DatabaseHandle } from '../../src/db/dialect.js';
import { createLogger } from '../../src/logger.js';
import { DeliveryWorker, type WorkerOptions } from '../../src/delivery/worker.js';
import type { DeliveryContext } from '../../src/delivery/context.js';
import type { Harness } from './harness.js';

export function testWorker(
  h: Harness,
  opts: Partial<WorkerOptions> & {
    delivery?: DeliveryContext;
    listen?: boolean;
    /** Scheduling clock for the worker. (Default: the harness clock) */
    clock?: Clock;
    /** (Default: the harness's database) */
    database?: DatabaseHandle;
  } = {},
): DeliveryWorker {
  const logger = createLogger(process.env.HOOKDESK_TEST_LOG_LEVEL === 'debug' ? 'debug' : 'silent');
  const delivery = opts.delivery ?? h.delivery;
  return new DeliveryWorker(
    {
      database: opts.database ?? h.database,
      clock: opts.clock ?? h.clock,
      logger,
      dispatcher: delivery.dispatcher,
      metrics: h.metrics,
      ...(opts.listen ? { databaseUrl: h.databaseUrl } : {}),
    },
    {
      concurrency: opts.concurrency ?? 8,
      timeoutMs: opts.timeoutMs ?? delivery.timeoutMs,
      ...(opts.perWebhook ? { perWebhook: opts.perWebhook } : {}),
      ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
      ...(opts.pollIntervalMs ? { pollIntervalMs: opts.pollIntervalMs } : {}),
    },
  );
}
