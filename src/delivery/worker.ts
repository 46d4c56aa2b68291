/**
 * The delivery worker: claims due deliveries under a lease, attempts them
 * with bounded concurrency (overall and per webhook), records each outcome,
 * and sleeps until the next due retry or a wake-up. `runOnce()` does one
 * claim-and-attempt pass for tests; `start()`/`stop()` run the loop.
 *
 * The loop is a pipeline, so that neither the network nor the database waits
 * for the other: claims take many deliveries at once and a few ahead of the
 * free slots; a slot is free again as soon as its answer is in; outcomes are
 * written in batches (`OutcomeRecorder`), a transaction for many attempts.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/dialect.js';
import { earliest } from '../db/queue-rows.js';
import { Fairness, type Hold } from './fairness.js';
import type { Logger } from '../logger.js';
import type { Mailer } from '../mail/mailer.js';
import type { Metrics } from '../metrics.js';
import { listenForWakeups, type WakeListener } from './listener.js';
import { claimWithWebhooks, type ClaimedDelivery, type ClaimedWebhook } from './queue/claim.js';
import { cancelClaimed } from './queue/commands.js';
import { nextWakeAt, releaseClaims } from './queue/maintenance.js';
import type { DisabledWebhook } from './queue/outcome.js';
import { OutcomeRecorder } from './recorder.js';
import { sendAttempt } from './sender.js';
import { onLocalWake } from './wake.js';

/** Shortest interval between claims that are not draining a backlog (see `loop`). */
const CLAIM_PACE_MS = 5;

/** Attempts in flight per webhook in a process, unless told otherwise. */
export const DEFAULT_PER_WEBHOOK = 4;

export interface WorkerOptions {
  /** Attempts in flight in this worker. (HOOKDESK_WORKER_CONCURRENCY, or a thread's share of it) */
  concurrency: number;
  /** Attempts in flight per webhook in this worker. (Default: DEFAULT_PER_WEBHOOK) */
  perWebhook?: number;
  /**
   * Percentage of `concurrency` one organization, and one destination host,
   * may hold with deliveries to slow or silent endpoints (./fairness.ts).
   * (HOOKDESK_WORKER_SLOW_SHARE; Default: 25)
   */
  slowSharePercent?: number;
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

export class DeliveryWorker {
  readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly perWebhook: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  /** Every claimed delivery until its outcome is recorded (or it is given up). */
  private readonly inflight = new Map<string, Promise<void>>();
  /** Requests on the wire: what `concurrency` bounds. */
  private sending = 0;
  /** Requests on the wire per webhook: what `perWebhook` bounds. */
  private readonly perHook = new Map<string, number>();
  private running = false;
  private loopDone: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private woken = false;
  private stopWakeups: (() => void) | null = null;
  private listener: WakeListener | null = null;
  private readonly recorder: OutcomeRecorder;
  /** Claimed, not started yet: waiting for a free slot (at most `prefetch` beyond the free slots). */
  private readonly ready: {
    delivery: ClaimedDelivery;
    hook: ClaimedWebhook | undefined;
    claimedAt: number;
    hold: Hold | null;
  }[] = [];
  /** Shares of slots between organizations and hosts, for slow endpoints. */
  private readonly fairness: Fairness;
  private readonly readyPerHook = new Map<string, number>();
  private readonly prefetch: number;
  private readonly minClaim: number;
  private readonly maxReadyMs: number;
  /** The last claim: when it ran (performance.now()), the clock time it claimed as of, and whether it filled its limit. */
  private lastClaim = { at: 0, asOf: 0, full: false };
  /** When each webhook last answered (any HTTP response), for `capFor`. */
  private readonly answeredAt = new Map<string, number>();
  /** The database's answer to "when is the next claimable delivery due", and when it was asked. */
  private nextDue: { at: number | null; checkedAt: number; key: string } | null = null;
  /** The earliest retry this worker scheduled that is still in the future. */
  private localNextDue: number | null = null;

  constructor(
    private readonly deps: WorkerDeps,
    private readonly opts: WorkerOptions,
  ) {
    // An outcome is written within a few milliseconds of its answer, with
    // others: the slot is already free, so waiting costs no throughput.
    this.recorder = new OutcomeRecorder(deps.database.db, deps.clock, this.id, {
      gatherTarget: opts.concurrency,
      gatherMs: 5,
    });
    this.perWebhook = opts.perWebhook ?? DEFAULT_PER_WEBHOOK;
    this.fairness = new Fairness({
      concurrency: opts.concurrency,
      perWebhook: this.perWebhook,
      slowSharePercent: opts.slowSharePercent,
    });
    this.leaseMs = opts.leaseMs ?? 2 * opts.timeoutMs + 5_000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 5_000;
    // As many claimed ahead as on the wire: claims (and so transactions) of a
    // quarter of that room, 16 at the default concurrency, cost 9 % less CPU
    // per delivery than claims of 12 (bench/RESULTS.md).
    this.prefetch = opts.concurrency;
    this.minClaim = Math.max(1, Math.floor((opts.concurrency + this.prefetch) / 4));
    this.maxReadyMs = Math.min(opts.timeoutMs, 5_000);
  }

  /** Claims what is due now, attempts it all, and resolves when every attempt is recorded. */
  async runOnce(): Promise<number> {
    const started = await this.claim(
      this.opts.concurrency - this.sending - this.ready.length,
      this.deps.clock.now(),
    );
    this.launch();
    // Bounded: each pass starts at least one, or gives back what waited too long.
    for (let i = 0; i <= started && (this.inflight.size > 0 || this.ready.length > 0); i++) {
      if (this.inflight.size > 0) await Promise.race([...this.inflight.values()]);
      this.launch();
      if (this.inflight.size === 0 && this.ready.length > 0) break;
    }
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
   * Stops claiming, gives back at once what was claimed ahead and not started,
   * lets attempts in flight finish for up to `drainMs`, then gives back
   * whatever is still held so another worker can take it at once.
   */
  async stop(drainMs = this.opts.timeoutMs + 2_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.signal();
    this.stopWakeups?.();
    await this.listener?.close();
    await this.loopDone;
    const unstarted = this.ready.splice(0);
    for (const r of unstarted) this.fairness.release(r.hold);
    await this.giveBack(unstarted.map((r) => r.delivery.id));
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
        // Let every attempt that finished in this turn of the event loop give
        // back its slot first: one claim for all of them, not one claim each.
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.launch();
        const free = this.room();
        // Claim in batches: wait until a quarter of the room is free, unless
        // nothing is left to start (then any free slot is worth a claim).
        const claimNow = free > 0 && (free >= this.minClaim || this.ready.length === 0);
        // When claims are finding only what just committed (not a backlog), take
        // a few milliseconds' worth at a time: one claim per event would cost
        // more than the deliveries themselves under a steady stream of events.
        const sinceLast = performance.now() - this.lastClaim.at;
        if (claimNow && !this.lastClaim.full && sinceLast < CLAIM_PACE_MS)
          await new Promise((resolve) => setTimeout(resolve, CLAIM_PACE_MS - sinceLast));
        const claimed = claimNow ? await this.claimPaced(free) : 0;
        this.launch();
        full = this.room() <= 0;
        // A full batch means more may be due right now.
        if (claimed > 0 && claimed === free && !full) continue;
        if (full || !claimNow) {
          await this.sleep(this.pollIntervalMs); // a freed slot wakes the loop
          continue;
        }
        const { wait, dueAt } = await this.untilNextDue();
        if (wait > 0 || claimed > 0) {
          await this.sleep(wait);
          continue;
        }
        // Due now, yet the claim took nothing. Fallen due since the claim looked
        // (on PostgreSQL the claim's round trip takes milliseconds): claim again.
        // Due when it looked: every due row belongs to a webhook at its in-flight
        // bound, so wait for a slot, not for the clock.
        if (dueAt !== null && dueAt > this.lastClaim.asOf) continue;
        await this.sleep(this.pollIntervalMs);
      } catch (error) {
        logger.error({ err: error }, 'delivery loop error; retrying shortly');
        await this.sleep(1_000);
      }
    }
  }

  /**
   * How many more deliveries may be claimed now. `concurrency` bounds the
   * requests on the wire; besides those, up to as many are claimed ahead
   * (`ready`), so that a slot that frees starts its next request at once
   * instead of waiting for a claim. A slot is free as soon as its answer is
   * in, while its outcome is still being written (in a batch with others);
   * claimed deliveries not yet recorded are bounded too, by 3 × `concurrency`.
   */
  private room(): number {
    return Math.min(
      this.opts.concurrency + this.prefetch - this.sending - this.ready.length,
      3 * this.opts.concurrency - this.ready.length - this.inflight.size,
    );
  }

  /**
   * How long to sleep until something becomes claimable, and when that is
   * (null: nothing is pending or leased). The database is
   * asked at most once a second while its answer is still in the future (a
   * new delivery wakes the loop anyway); retries this worker schedules itself
   * are known here without asking.
   */
  private async untilNextDue(): Promise<{ wait: number; dueAt: number | null }> {
    const now = this.deps.clock.now();
    // Webhooks at their bound wake the loop when a request of theirs ends; what
    // matters here is when anything else becomes due.
    const saturated = this.saturated(performance.now()).sort();
    const key = saturated.join(',');
    // Only the earliest local retry is kept: once it is due, later ones this
    // worker scheduled are known only to the database, so ask it again (a
    // cached "nothing due" would otherwise sleep through them until the poll).
    if (this.localNextDue !== null && this.localNextDue <= now) {
      this.localNextDue = null;
      this.nextDue = null;
    }
    const cached = this.nextDue;
    if (
      cached === null ||
      cached.key !== key ||
      now - cached.checkedAt >= 1_000 ||
      (cached.at !== null && cached.at <= now)
    ) {
      this.nextDue = {
        at: await nextWakeAt(this.deps.database.db, saturated),
        checkedAt: now,
        key,
      };
    }
    const dueAt = earliest(this.nextDue!.at, this.localNextDue);
    if (dueAt === null) return { wait: this.pollIntervalMs, dueAt };
    return { wait: Math.min(this.pollIntervalMs, Math.max(0, dueAt - now)), dueAt };
  }

  /** Notes a retry this worker just scheduled, for `untilNextDue`. */
  private scheduled(at: number): void {
    if (this.localNextDue === null || at < this.localNextDue) this.localNextDue = at;
    // The sleep in progress was computed without it.
    if (at - this.deps.clock.now() < this.pollIntervalMs) this.signal();
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

  /** A claim, noting when it ran and whether it filled its limit (a backlog is waiting). */
  private async claimPaced(limit: number): Promise<number> {
    const at = performance.now();
    const asOf = this.deps.clock.now();
    const claimed = await this.claim(limit, asOf);
    // A claim that filled its limit, or took a webhook's whole per-claim share,
    // found a backlog: the next one is not paced.
    this.lastClaim = { at, asOf, full: claimed >= limit || claimed >= this.perWebhook };
    return claimed;
  }

  /**
   * Webhooks this worker holds as many deliveries of as it may (see `capFor`),
   * and slow ones whose organization or host has its share (see `Fairness`).
   */
  private saturated(now: number): string[] {
    const ids = new Set([...this.perHook.keys(), ...this.readyPerHook.keys()]);
    const full = [...ids].filter((id) => this.heldFor(id) >= this.capFor(id, now));
    const refused = this.fairness.refused(now);
    return refused.length === 0 ? full : [...new Set([...full, ...refused])];
  }

  /** Requests on the wire plus claimed-ahead deliveries, for one webhook. */
  private heldFor(webhookId: string): number {
    return (this.perHook.get(webhookId) ?? 0) + (this.readyPerHook.get(webhookId) ?? 0);
  }

  /**
   * How many deliveries of one webhook this worker may hold (on the wire or
   * claimed ahead). `perWebhook` is always the bound on the wire; a webhook
   * that answered within the last second may also have as many claimed ahead,
   * so a busy endpoint gets its next request as soon as one is answered. One
   * that is not answering (hanging until the timeout) gets none ahead.
   */
  private capFor(webhookId: string, now: number): number {
    const answered = this.answeredAt.get(webhookId);
    return answered !== undefined && now - answered < 1_000 ? 2 * this.perWebhook : this.perWebhook;
  }

  /** Claims up to `limit` due deliveries into `ready`; returns how many it kept. */
  private async claim(limit: number, asOf: number): Promise<number> {
    if (limit <= 0) return 0;
    const { db } = this.deps.database;
    const now = performance.now();
    for (const [id, at] of this.answeredAt) if (now - at >= 1_000) this.answeredAt.delete(id);
    const saturated = this.saturated(now);
    const { deliveries: claimed, webhooks: byId } = await claimWithWebhooks(db, {
      owner: this.id,
      now: asOf,
      leaseMs: this.leaseMs,
      limit,
      perWebhook: this.perWebhook,
      excludeWebhookIds: saturated,
    });
    if (claimed.length === 0) return 0;
    // The claim caps each webhook at `perWebhook` rows, not at the room this process
    // has left for it, nor at its organization's and host's share of slow holds;
    // the excess goes straight back, due as before.
    const excess: string[] = [];
    let kept = 0;
    const claimedAt = now;
    for (const delivery of claimed) {
      const hook = byId.get(delivery.webhook_id);
      if (hook) this.fairness.learn(delivery.webhook_id, delivery.organization_id, hook.url);
      if (this.heldFor(delivery.webhook_id) >= this.capFor(delivery.webhook_id, now)) {
        excess.push(delivery.id);
        continue;
      }
      const hold = this.fairness.admit(delivery.webhook_id, now);
      if (hold === 'over') {
        excess.push(delivery.id);
        continue;
      }
      kept += 1;
      this.ready.push({ delivery, hook, claimedAt, hold });
      this.countReady(delivery.webhook_id, 1);
    }
    if (excess.length > 0) await releaseClaims(db, this.id, excess, this.deps.clock.now());
    return kept;
  }

  private countReady(webhookId: string, delta: number): void {
    const n = (this.readyPerHook.get(webhookId) ?? 0) + delta;
    if (n > 0) this.readyPerHook.set(webhookId, n);
    else this.readyPerHook.delete(webhookId);
  }

  /**
   * Starts claimed deliveries, oldest first, while slots are free. One that
   * waited for a slot longer than `maxReadyMs` (every slot held by slow
   * endpoints) is given back instead, so that a start never eats into the
   * margin its lease keeps for the attempt and its recording.
   */
  private launch(): void {
    const stale: string[] = [];
    const now = performance.now();
    for (let i = 0; i < this.ready.length && this.sending < this.opts.concurrency;) {
      const { delivery, hook, claimedAt, hold } = this.ready[i]!;
      if (now - claimedAt > this.maxReadyMs) {
        this.ready.splice(i, 1);
        this.countReady(delivery.webhook_id, -1);
        this.fairness.release(hold);
        stale.push(delivery.id);
        continue;
      }
      if ((this.perHook.get(delivery.webhook_id) ?? 0) >= this.perWebhook) {
        i += 1;
        continue;
      }
      this.ready.splice(i, 1);
      this.countReady(delivery.webhook_id, -1);
      this.begin(delivery, hook, hold);
    }
    if (stale.length > 0) void this.giveBack(stale);
  }

  private async giveBack(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    try {
      await releaseClaims(this.deps.database.db, this.id, ids, this.deps.clock.now());
    } catch (error) {
      // Their leases run out and another pass takes them.
      this.deps.logger.warn({ err: error }, 'could not give back claimed deliveries');
    }
  }

  private begin(
    delivery: ClaimedDelivery,
    hook: ClaimedWebhook | undefined,
    hold: Hold | null,
  ): void {
    this.sending += 1;
    this.perHook.set(delivery.webhook_id, (this.perHook.get(delivery.webhook_id) ?? 0) + 1);
    let sent = false;
    // Gives back the request slot: once the answer is in, or when the task ends.
    const release = (answered = false) => {
      if (sent) return;
      sent = true;
      if (answered) this.answeredAt.set(delivery.webhook_id, performance.now());
      this.fairness.release(hold);
      this.sending -= 1;
      const left = (this.perHook.get(delivery.webhook_id) ?? 1) - 1;
      if (left > 0) this.perHook.set(delivery.webhook_id, left);
      else this.perHook.delete(delivery.webhook_id);
      this.signal();
    };
    const task = this.attempt(delivery, hook, release).finally(() => {
      release();
      this.inflight.delete(delivery.id);
      this.signal();
    });
    this.inflight.set(delivery.id, task);
  }

  private async attempt(
    delivery: ClaimedDelivery,
    hook: ClaimedWebhook | undefined,
    sent: (answered: boolean) => void,
  ): Promise<void> {
    const { database, clock, logger, metrics } = this.deps;
    // The same fields as a child logger's bindings, without building one per attempt.
    const about = {
      deliveryId: delivery.id,
      webhookId: delivery.webhook_id,
      attempt: delivery.attempt_count + 1,
    };
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
      this.fairness.measured(delivery.webhook_id, result.durationMs, performance.now());
      sent(result.statusCode !== null);
      // Batched with the other attempts finishing now: one transaction for many.
      const outcome = await this.recorder.record(delivery, result);
      const outcomeLabel = result.success ? 'success' : 'failure';
      metrics?.attempts.inc({ outcome: outcomeLabel, error_code: result.error?.code ?? 'none' });
      metrics?.attemptDuration.observe({ outcome: outcomeLabel }, result.durationMs / 1000);
      if (outcome.recorded && outcome.status !== 'pending')
        metrics?.deliveries.inc({ outcome: outcome.status });
      if (outcome.nextAttemptAt !== null) this.scheduled(outcome.nextAttemptAt);
      logger.info(
        {
          ...about,
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
      logger.error({ ...about, err: error }, 'could not record a delivery attempt');
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
