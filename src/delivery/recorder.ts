/**
 * Batches the worker's outcome writes: attempts that finish while a batch is
 * being written wait for the next one, so one transaction records many
 * attempts (under load) while a lone attempt is still written at once (idle).
 * The first write of a batch waits only for the current turn of the event
 * loop (`setImmediate`), gathering responses that arrived together.
 *
 * If a batch's transaction fails, its attempts are recorded again one per
 * transaction (`recordAlone`), so one bad row cannot hold back the others. A
 * row the database refuses for its content is recorded without the response;
 * an attempt that still fails (the database unavailable) rejects its promise:
 * its claim stays leased and is retried when the lease runs out, as before.
 */
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import { dialectOf } from '../db/registry.js';
import type { Database } from '../db/schema.js';
import type { ClaimedDelivery } from './queue/claim.js';
import {
  MAX_OUTCOME_BATCH,
  recordOutcome,
  recordOutcomeBatch,
  type Outcome,
} from './queue/outcome.js';
import type { AttemptResult } from './sender.js';

/** The error code of an attempt recorded without its response (`withoutResponse`). */
export const RESPONSE_NOT_STORED = 'response_not_stored';

/**
 * The attempt with everything the receiver wrote dropped (headers, body, and
 * an error message that may quote it), keeping its result, status code and
 * timing, so that it counts exactly as it would have.
 */
export function withoutResponse(attempt: AttemptResult): AttemptResult {
  const was = attempt.error ? ` (it had failed with ${attempt.error.code})` : '';
  return {
    ...attempt,
    responseHeaders: null,
    responseBody: null,
    responseBodyTruncated: false,
    error: {
      code: RESPONSE_NOT_STORED,
      message: `The database refused this attempt's response${was}; its headers, body and error text were dropped.`,
    },
  };
}

/**
 * Records one attempt in a transaction of its own. If the database refuses
 * the row for its content (`Dialect.isDataError`), it is recorded again
 * `withoutResponse`: the attempt still succeeds, or counts as a failure and
 * is retried on schedule, instead of staying `delivering` and being sent
 * again at every lease. Any other error is thrown as it is: an unavailable
 * database must not turn into failed attempts. `tried` is the error of a
 * write of this same attempt that already failed, to act on without writing
 * it again.
 */
export async function recordAlone(
  db: Kysely<Database>,
  clock: Clock,
  delivery: ClaimedDelivery,
  owner: string,
  attempt: AttemptResult,
  tried?: { error: unknown },
): Promise<Outcome> {
  const write = (a: AttemptResult) =>
    db.transaction().execute((trx) => recordOutcome(trx, clock, delivery, owner, a));
  let error: unknown;
  if (tried) error = tried.error;
  else {
    try {
      return await write(attempt);
    } catch (e) {
      error = e;
    }
  }
  if (!dialectOf(db).isDataError(error)) throw error;
  return write(withoutResponse(attempt));
}

interface Waiting {
  delivery: ClaimedDelivery;
  attempt: AttemptResult;
  resolve: (o: Outcome) => void;
  reject: (e: unknown) => void;
}

export interface RecorderOptions {
  /** Most attempts per transaction. (Default: MAX_OUTCOME_BATCH) */
  maxBatch?: number;
  /**
   * A batch smaller than this waits up to `gatherMs` (from its first
   * attempt) for more, so that fewer, larger transactions do the writing.
   * (Default: 1, no waiting)
   */
  gatherTarget?: number;
  /** (Default: 0) */
  gatherMs?: number;
}

export class OutcomeRecorder {
  private queue: Waiting[] = [];
  private writing = false;
  private readonly maxBatch: number;
  private readonly gatherTarget: number;
  private readonly gatherMs: number;
  /** Resolves the gathering pause early, once the batch is big enough. */
  private gathered: (() => void) | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly owner: string,
    opts: RecorderOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? MAX_OUTCOME_BATCH;
    this.gatherTarget = Math.min(opts.gatherTarget ?? 1, this.maxBatch);
    this.gatherMs = opts.gatherMs ?? 0;
  }

  record(delivery: ClaimedDelivery, attempt: AttemptResult): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      this.queue.push({ delivery, attempt, resolve, reject });
      if (this.queue.length >= this.gatherTarget) this.gathered?.();
      if (!this.writing) {
        this.writing = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        if (this.queue.length < this.gatherTarget && this.gatherMs > 0) await this.gather();
        const batch = this.queue.splice(0, this.maxBatch);
        await this.write(batch);
      }
    } finally {
      this.writing = false;
    }
  }

  private gather(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.gathered = null;
        resolve();
      };
      const timer = setTimeout(done, this.gatherMs);
      this.gathered = done;
    });
  }

  private async write(batch: Waiting[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await recordOutcomeBatch(this.db, this.clock, this.owner, batch);
    } catch (error) {
      // A lone attempt's failed write was already its own: not written again as it was.
      const tried = batch.length === 1 ? { error } : undefined;
      for (const w of batch) {
        try {
          w.resolve(
            await recordAlone(this.db, this.clock, w.delivery, this.owner, w.attempt, tried),
          );
        } catch (itemError) {
          w.reject(itemError);
        }
      }
      return;
    }
    batch.forEach((w, i) => w.resolve(outcomes[i]!));
  }
}
