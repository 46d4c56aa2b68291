/**
 * The delivery worker: claims due deliveries under a lease, attempts them
 * with bounded concurrency (overall and per webhook), records each outcome,
 * and sleeps until the next due retry or a wake-up. `runOnce()` does one
 * claim-and-attempt pass for tests; `start()`/`stop()` run the loop.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/dialect.js';
import type { WebhooksTable } from '../db/schema.js';
import type { Logger } from '../logger.js';
import type { Mailer } from '../mail/mailer.js';
import type { Metrics } from '../metrics.js';
import { listenForWakeups, type WakeListener } from './listener.js';
import { claimDueDeliveries, type ClaimedDelivery } from './queue/claim.js';
import { cancelClaimed } from './queue/commands.js';
import { nextWakeAt, releaseClaims } from './queue/maintenance.js';
import { recordOutcome, type DisabledWebhook } from './queue/outcome.js';
import { sendAttempt } from './sender.js';
import { onLocalWake } from './wake.js';

export interface WorkerOptions {
  /** Attempts in flight in this process. (Default: 32, from HOOKDESK_WORKER_CONCURRENCY) */
  concurrency: number;
  /** Attempts in flight per webhook in this process. (Default: 4) */
  perWebhook?: number;
  /** Whole-request timeout of one attempt, ms. (Default: 10000) */
  timeoutMs: number;
  /**
   * Lease on a claimed delivery: how long a dead worker's claims stay blocked.
   * Must outlast an attempt with room for recording it. (Default: 2 × timeoutMs + 5000)
   */
  leaseMs?: number;
  /** Longest sleep without a wake-up: the safety net for missed signals. (Default: 5000) */
  pollIntervalMs?: number;
}

export interface WorkerDeps {
  database: DatabaseHandle;
  /** Scheduling time (retry due times, leases). */
  clock: Clock;
  logger: Logger;
  mailer: Mailer;
  dispatcher: Dispatcher;
  metrics?: Metrics;
  /** For LISTEN on PostgreSQL; omitted in tests that drive runOnce(). */
  databaseUrl?: string;
}

type Hook = Pick<WebhooksTable, 'id' | 'url' | 'secret' | 'headers' | 'active'>;

export class DeliveryWorker {
  readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly perWebhook: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly perHook = new Map<string, number>();
  private running = false;
  private loopDone: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private woken = false;
  private stopWakeups: (() => void) | null = null;
  private listener: WakeListener | null = null;

  constructor(
    private readonly deps: WorkerDeps,
    private readonly opts: WorkerOptions,
  ) {
    this.perWebhook = opts.perWebhook ?? 4;
    this.leaseMs = opts.leaseMs ?? 2 * opts.timeoutMs + 5_000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 5_000;
  }

  /** Claims what is due now, attempts it all, and resolves when every attempt is recorded. */
  async runOnce(): Promise<number> {
    const started = await this.claimAndLaunch();
    await Promise.all([...this.inflight.values()]);
    return started;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopWakeups = onLocalWake(() => this.signal());
    if (this.deps.database.dialect.capabilities.listenNotify && this.deps.databaseUrl) {
      this.listener = listenForWakeups(
        this.deps.databaseUrl,
        () => this.signal(),
        this.deps.logger,
      );
    }
    this.loopDone = this.loop();
  }

  /**
   * Stops claiming, lets attempts in flight finish for up to `drainMs`, then
   * gives back whatever is still held so another worker can take it at once.
   */
  async stop(drainMs = this.opts.timeoutMs + 2_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.signal();
    this.stopWakeups?.();
    await this.listener?.close();
    await this.loopDone;
    const drained = await Promise.race([
      Promise.all([...this.inflight.values()]).then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), drainMs).unref()),
    ]);
    if (!drained) {
      const ids = [...this.inflight.keys()];
      const released = await releaseClaims(
        this.deps.database.db,
        this.id,
        ids,
        this.deps.clock.now(),
      );
      this.deps.logger.warn(
        { released },
        'worker stopped with attempts in flight; their claims were released',
      );
    }
  }

  private signal(): void {
    this.woken = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    const { logger } = this.deps;
    while (this.running) {
      this.woken = false;
      let full = false;
      try {
        const free = this.opts.concurrency - this.inflight.size;
        const started = free > 0 ? await this.claimAndLaunch() : 0;
        full = this.inflight.size >= this.opts.concurrency;
        // A full batch means more may be due right now.
        if (started > 0 && started === free && !full) continue;
        // Nothing claimable although something is due means every due row belongs to a
        // webhook already at its in-flight bound: wait for a slot, not for the clock.
        const wait = full ? this.pollIntervalMs : await this.untilNextDue();
        await this.sleep(started === 0 && wait === 0 ? this.pollIntervalMs : wait);
      } catch (error) {
        logger.error({ err: error }, 'delivery loop error; retrying shortly');
        await this.sleep(1_000);
      }
    }
  }

  private async untilNextDue(): Promise<number> {
    const next = await nextWakeAt(this.deps.database.db);
    if (next === null) return this.pollIntervalMs;
    return Math.min(this.pollIntervalMs, Math.max(0, next - this.deps.clock.now()));
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private async claimAndLaunch(): Promise<number> {
    const { db } = this.deps.database;
    const saturated = [...this.perHook.entries()]
      .filter(([, n]) => n >= this.perWebhook)
      .map(([id]) => id);
    const claimed = await claimDueDeliveries(db, {
      owner: this.id,
      now: this.deps.clock.now(),
      leaseMs: this.leaseMs,
      limit: this.opts.concurrency - this.inflight.size,
      perWebhook: this.perWebhook,
      excludeWebhookIds: saturated,
    });
    if (claimed.length === 0) return 0;
    const hookIds = [...new Set(claimed.map((d) => d.webhook_id))];
    const hooks = await db
      .selectFrom('webhooks')
      .select(['id', 'url', 'secret', 'headers', 'active'])
      .where('id', 'in', hookIds)
      .execute();
    const byId = new Map(hooks.map((h) => [h.id, h]));
    // The claim caps each webhook at `perWebhook` rows, not at the room this process
    // has left for it; the excess goes straight back, due as before.
    const excess: string[] = [];
    let started = 0;
    for (const delivery of claimed) {
      const inflightForHook = this.perHook.get(delivery.webhook_id) ?? 0;
      if (inflightForHook >= this.perWebhook) {
        excess.push(delivery.id);
        continue;
      }
      started += 1;
      this.perHook.set(delivery.webhook_id, inflightForHook + 1);
      const task = this.attempt(delivery, byId.get(delivery.webhook_id)).finally(() => {
        this.inflight.delete(delivery.id);
        const left = (this.perHook.get(delivery.webhook_id) ?? 1) - 1;
        if (left > 0) this.perHook.set(delivery.webhook_id, left);
        else this.perHook.delete(delivery.webhook_id);
        this.signal();
      });
      this.inflight.set(delivery.id, task);
    }
    if (excess.length > 0) await releaseClaims(db, this.id, excess, this.deps.clock.now());
    return started;
  }

  private async attempt(delivery: ClaimedDelivery, hook: Hook | undefined): Promise<void> {
    const { database, clock, logger, metrics } = this.deps;
    const log = logger.child({
      deliveryId: delivery.id,
      webhookId: delivery.webhook_id,
      attempt: delivery.attempt_count + 1,
    });
    if (!hook) return; // the webhook was deleted; its deliveries went with it
    try {
      if (hook.active !== 1) {
        await cancelClaimed(database.db, delivery.id, this.id, clock.now());
        metrics?.deliveries.inc({ outcome: 'cancelled' });
        return;
      }
      const result = await sendAttempt(
        {
          url: hook.url,
          deliveryId: delivery.id,
          eventType: delivery.event_type,
          body: delivery.payload,
          secret: hook.secret,
          customHeaders: JSON.parse(hook.headers) as Record<string, string>,
        },
        { dispatcher: this.deps.dispatcher, timeoutMs: this.opts.timeoutMs },
      );
      const outcome = await database.db
        .transaction()
        .execute((trx) => recordOutcome(trx, clock, delivery, this.id, result));
      const outcomeLabel = result.success ? 'success' : 'failure';
      metrics?.attempts.inc({ outcome: outcomeLabel, error_code: result.error?.code ?? 'none' });
      metrics?.attemptDuration.observe({ outcome: outcomeLabel }, result.durationMs / 1000);
      if (outcome.recorded && outcome.status !== 'pending')
        metrics?.deliveries.inc({ outcome: outcome.status });
      log.info(
        {
          status: outcome.status,
          statusCode: result.statusCode,
          durationMs: result.durationMs,
          errorCode: result.error?.code,
          nextAttemptAt: outcome.nextAttemptAt,
          recorded: outcome.recorded,
        },
        'delivery attempt',
      );
      if (outcome.disabled) await this.notifyByMail(outcome.disabled);
    } catch (error) {
      // The claim stays leased; when the lease runs out another pass retries it.
      log.error({ err: error }, 'could not record a delivery attempt');
    }
  }

  private async notifyByMail(d: DisabledWebhook): Promise<void> {
    for (const r of d.recipients) {
      try {
        await this.deps.mailer.send({
          to: r.email,
          subject: `[Hookdesk] Webhook "${d.name}" was disabled`,
          text: [
            `Your webhook "${d.name}" was disabled after 10 consecutive failed deliveries.`,
            '',
            `URL: ${d.url}`,
            `Last error: ${d.lastError}`,
            '',
            'Its pending deliveries were cancelled. Fix the endpoint, then set the webhook active again to resume.',
          ].join('\n'),
        });
      } catch (error) {
        this.deps.logger.error(
          { err: error, webhookId: d.webhookId },
          'could not email a webhook-disabled notice',
        );
      }
    }
  }
}
