/** Every job kind a worker process runs, and its handler. */
import type { Clock } from '../clock.js';
import type { Executor } from '../db/schema.js';
import { SLA_TIMER_KIND, slaTimerHandler } from '../sla/timers.js';
import type { JobHandler } from './runner.js';

export interface JobDeps {
  db: Executor;
  clock: Clock;
}

export function jobHandlers(deps: JobDeps): Record<string, JobHandler> {
  return {
    [SLA_TIMER_KIND]: slaTimerHandler(deps.db, deps.clock),
  };
}
