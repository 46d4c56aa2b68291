import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { DatabaseHandle } from '../db/dialect.js';
import type { DeliveryContext } from '../delivery/context.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** What route plugins receive: passed down explicitly, never imported as globals. */
export interface AppDeps {
  readonly config: Config;
  readonly database: DatabaseHandle;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly delivery: DeliveryContext;
  readonly metrics: Metrics;
}
