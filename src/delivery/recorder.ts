/**
 * Batches the worker's outcome writes: attempts that finish while a batch is
 * being written wait for the next one, so one transaction records many
 * attempts (under load) while a lone attempt is still written at once (idle).
 * The first write of a batch waits only for the current turn of the event
 * loop (`setImmediate`), gathering responses that arrived together.
 *
 * If a batch's transaction fails, its attempts are recorded again one per
 * transaction, so one bad row cannot hold back the others; an attempt that
 * still fails rejects its promise (its claim stays leased and is retried when
 * the lease runs out, as before).
 */
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import type { ClaimedDelivery } from './queue/claim.js';
import {
  MAX_OUTCOME_BATCH,
  recordOutcome,
  recordOutcomeBatch,
  type Outcome,
} from './queue/outcome.js';
import type { AttemptResult } from './sender.js';

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
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      for (const w of batch) {
        try {
          w.resolve(
            await this.db
              .transaction()
              .execute((trx) => recordOutcome(trx, this.clock, w.delivery, this.owner, w.attempt)),
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
