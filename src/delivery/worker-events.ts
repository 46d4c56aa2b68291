/**
 * What a delivery worker tells whoever listens (graphile-worker's `events`):
 * tests wait on these instead of sleeping, and an operator's code may watch
 * them. Emitting costs nothing when nobody listens: each emitter checks
 * `heard()` before it builds the event, so the hot path allocates nothing.
 */
import { EventEmitter } from 'node:events';
import type { ClaimedDelivery } from './queue/claim.js';
import type { Outcome } from './queue/outcome.js';
import type { AttemptResult } from './sender.js';

export interface WorkerEventMap {
  /** The PostgreSQL LISTEN connection is up: commits in other processes wake this worker. */
  listening: [];
  /** A claim ran; `deliveries` are the ones it kept (possibly none), as of clock time `asOf`. */
  claimed: [claim: { deliveries: readonly ClaimedDelivery[]; asOf: number }];
  /** An attempt's outcome is written (or found no longer this worker's: `outcome.recorded`). */
  'attempt:recorded': [
    attempt: { delivery: ClaimedDelivery; result: AttemptResult; outcome: Outcome },
  ];
  /** An attempt could not be recorded; its claim stays leased until the lease runs out. */
  'attempt:error': [attempt: { delivery: ClaimedDelivery; error: unknown }];
  /** The loop sleeps for up to `ms` (a wake-up or a freed slot ends it sooner). */
  sleeping: [sleep: { ms: number }];
  /** The loop sleeps with nothing claimed and nothing in flight. */
  idle: [];
}

export type WorkerEvents = EventEmitter<WorkerEventMap>;

export function createWorkerEvents(): WorkerEvents {
  const events = new EventEmitter<WorkerEventMap>();
  // Tests attach a waiter per awaited event; none of them is a leak.
  events.setMaxListeners(0);
  return events;
}

/** Whether anyone listens for `name`: build and emit the event only then. */
export function heard(events: WorkerEvents, name: keyof WorkerEventMap): boolean {
  return events.listenerCount(name) > 0;
}
