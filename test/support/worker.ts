/** A delivery worker wired to a harness's database, clock and egress agent. */
import { createLogger } from '../../src/logger.js';
import { createMailer } from '../../src/mail/mailer.js';
import { DeliveryWorker, type WorkerOptions } from '../../src/delivery/worker.js';
import type { DeliveryContext } from '../../src/delivery/context.js';
import type { Harness } from './harness.js';

export function testWorker(
  h: Harness,
  opts: Partial<WorkerOptions> & {
    smtpUrl?: string;
    delivery?: DeliveryContext;
    listen?: boolean;
  } = {},
): DeliveryWorker {
  const logger = createLogger('silent');
  const delivery = opts.delivery ?? h.delivery;
  return new DeliveryWorker(
    {
      database: h.database,
      clock: h.clock,
      logger,
      mailer: createMailer(
        { smtpUrl: opts.smtpUrl, mailFrom: 'Hookdesk <hookdesk@test.localhost>' },
        logger,
      ),
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
