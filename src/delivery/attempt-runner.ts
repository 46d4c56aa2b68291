/**
 * One delivery attempt, start to end: the request (./sender.ts), its outcome
 * written in a batch with others (./recorder.ts), the metrics and the log
 * line. The worker decides when an attempt starts; this decides nothing but
 * reports what happened.
 */
import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/dialect.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { ClaimedDelivery, ClaimedWebhook } from './queue/claim.js';
import { cancelClaimed } from './queue/commands.js';
import { OutcomeRecorder } from './recorder.js';
import { sendAttempt, type AttemptResult } from './sender.js';
import { signingSecrets } from './signing-secrets.js';
import { heard, type WorkerEvents } from './worker-events.js';

export interface AttemptRunnerDeps {
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  dispatcher: Dispatcher;
  metrics?: Metrics | undefined;
  events: WorkerEvents;
}

export interface AttemptRunnerOptions {
  /** The lease owner: the worker's id. */
  owner: string;
  /** Whole-request timeout of one attempt, ms. */
  timeoutMs: number;
  /** Attempts in flight in the worker: how many outcomes a batch gathers at most before it is written. */
  concurrency: number;
  /** Told of each retry scheduled, with its due time (clock ms). */
  scheduled: (at: number) => void;
}

export class AttemptRunner {
  private readonly recorder: OutcomeRecorder;

  constructor(
    private readonly deps: AttemptRunnerDeps,
    private readonly opts: AttemptRunnerOptions,
  ) {
    // An outcome is written within a few milliseconds of its answer, with
    // others: the slot is already free, so waiting costs no throughput.
    this.recorder = new OutcomeRecorder(deps.database.db, deps.clock, opts.owner, {
      gatherTarget: opts.concurrency,
      gatherMs: 5,
    });
  }

  /**
   * Attempts one claimed delivery and records the outcome. `answered` is
   * called once the request is over (before the outcome is written), so the
   * caller can give its slot to the next request at once. Never rejects: a
   * failure to record is logged, and the claim stays leased until its lease
   * runs out and another pass retries it.
   */
  async run(
    delivery: ClaimedDelivery,
    hook: ClaimedWebhook | undefined,
    answered: (result: AttemptResult) => void,
  ): Promise<void> {
    const { database, clock, logger, metrics, events } = this.deps;
    if (!hook) return; // the webhook was deleted; its deliveries went with it
    try {
      if (hook.active !== 1) {
        await cancelClaimed(database.db, delivery.id, this.opts.owner, clock.now());
        metrics?.deliveries.inc({ outcome: 'cancelled' });
        return;
      }
      const result = await sendAttempt(
        {
          url: hook.url,
          deliveryId: delivery.id,
          eventType: delivery.event_type,
          body: delivery.payload,
          // Decided on the injected clock, so a rotated secret stops signing
          // exactly at its expiry; `webhook-timestamp` is the attempt's own start.
          secrets: signingSecrets(hook, clock.now()),
          customHeaders: JSON.parse(hook.headers) as Record<string, string>,
        },
        { dispatcher: this.deps.dispatcher, timeoutMs: this.opts.timeoutMs },
      );
      answered(result);
      // Batched with the other attempts finishing now: one transaction for many.
      const outcome = await this.recorder.record(delivery, result);
      const outcomeLabel = result.success ? 'success' : 'failure';
      metrics?.attempts.inc({ outcome: outcomeLabel, error_code: result.error?.code ?? 'none' });
      metrics?.attemptDuration.observe({ outcome: outcomeLabel }, result.durationMs / 1000);
      if (outcome.recorded && outcome.status !== 'pending')
        metrics?.deliveries.inc({ outcome: outcome.status });
      if (outcome.nextAttemptAt !== null) this.opts.scheduled(outcome.nextAttemptAt);
      logger.info(
        {
          // The same fields as a child logger's bindings, without building one per attempt.
          deliveryId: delivery.id,
          webhookId: delivery.webhook_id,
          attempt: delivery.attempt_count + 1,
          status: outcome.status,
          statusCode: result.statusCode,
          durationMs: result.durationMs,
          errorCode: result.error?.code,
          nextAttemptAt: outcome.nextAttemptAt,
          recorded: outcome.recorded,
        },
        'delivery attempt',
      );
      if (heard(events, 'attempt:recorded'))
        events.emit('attempt:recorded', { delivery, result, outcome });
    } catch (error) {
      // The claim stays leased; when the lease runs out another pass retries it.
      logger.error(
        {
          deliveryId: delivery.id,
          webhookId: delivery.webhook_id,
          attempt: delivery.attempt_count + 1,
          err: error,
        },
        'could not record a delivery attempt',
      );
      if (heard(events, 'attempt:error')) events.emit('attempt:error', { delivery, error });
    }
  }
}
