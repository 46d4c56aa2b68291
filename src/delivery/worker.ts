/**
 * The delivery worker: claims due deliveries under a lease, attempts them
 * with bounded concurrency (overall and per webhook), records each outcome,
 * and sleeps until the next due retry or a wake-up. `runOnce()` does one
 * claim-and-attempt pass for tests; `start()`/`stop()` run the loop.
 *
 * The loop is a pipeline, so that neither the network nor the database waits
 * for the other: claims take many deliveries at once and a few ahead of the
 * free slots (./local-queue.ts); a slot is free again as soon as its answer
 * is in; outcomes are written in batches (./attempt-runner.ts through
 * ./recorder.ts), a transaction for many attempts. This file decides only
 * when to claim and when to sleep.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/dialect.js';
import { Waker } from '../jobs/waker.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { AttemptRunner } from './attempt-runner.js';
import { listenForWakeups, type WakeListener } from './listener.js';
import { LocalQueue, type ReadyDelivery } from './local-queue.js';
import { NextDue } from './next-due.js';
import type { AttemptResult } from './sender.js';
import { onLocalWake } from './wake.js';
import { createWorkerEvents, heard, type WorkerEvents } from './worker-events.js';

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
  dispatcher: Dispatcher;
  metrics?: Metrics;
  /** For LISTEN on PostgreSQL; omitted in tests that drive runOnce(). */
  databaseUrl?: string;
}

export class DeliveryWorker {
  readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  /** Claims, recorded attempts, sleeps: for tests to wait on (./worker-events.ts). */
  readonly events: WorkerEvents = createWorkerEvents();
  private readonly queue: LocalQueue;
  private readonly attempts: AttemptRunner;
  private readonly nextDue: NextDue;
  private readonly waker = new Waker();
  private readonly perWebhook: number;
  private readonly pollIntervalMs: number;
  /** Every claimed delivery started until its outcome is recorded (or it is given up). */
  private readonly inflight = new Map<string, Promise<void>>();
  private running = false;
  private loopDone: Promise<void> | null = null;
  private stopWakeups: (() => void) | null = null;
  private listener: WakeListener | null = null;
  /** Set when a claim put deliveries back to wait for a rate limit: their slots are still free. */
  private deferredInClaim = false;
  /** The last claim: when it ran (performance.now()), the clock time it claimed as of, and whether it filled its limit. */
  private lastClaim = { at: 0, asOf: 0, full: false };

  constructor(
    private readonly deps: WorkerDeps,
    private readonly opts: WorkerOptions,
  ) {
    const { events } = this;
    this.perWebhook = opts.perWebhook ?? DEFAULT_PER_WEBHOOK;
    this.pollIntervalMs = opts.pollIntervalMs ?? 5_000;
    this.queue = new LocalQueue(
      { database: deps.database, clock: deps.clock, logger: deps.logger, events },
      {
        owner: this.id,
        concurrency: opts.concurrency,
        perWebhook: this.perWebhook,
        slowSharePercent: opts.slowSharePercent,
        leaseMs: opts.leaseMs ?? 2 * opts.timeoutMs + 5_000,
        timeoutMs: opts.timeoutMs,
        onDeferred: (at) => {
          this.deferredInClaim = true;
          this.scheduled(at);
        },
      },
    );
    this.attempts = new AttemptRunner(
      { ...deps, events },
      {
        owner: this.id,
        timeoutMs: opts.timeoutMs,
        concurrency: opts.concurrency,
        scheduled: (at) => this.scheduled(at),
      },
    );
    this.nextDue = new NextDue(deps.database.db, deps.clock, this.pollIntervalMs);
  }

  /** Claims what is due now, attempts it all, and resolves when every attempt is recorded. */
  async runOnce(): Promise<number> {
    const started = await this.queue.claim(
      this.queue.free - this.queue.waiting,
      this.deps.clock.now(),
    );
    this.launch();
    // Bounded: each pass starts at least one, or gives back what waited too long.
    for (let i = 0; i <= started && (this.inflight.size > 0 || this.queue.waiting > 0); i++) {
      if (this.inflight.size > 0) await Promise.race([...this.inflight.values()]);
      this.launch();
      if (this.inflight.size === 0 && this.queue.waiting > 0) break;
    }
    await Promise.all([...this.inflight.values()]);
    return started;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopWakeups = onLocalWake(() => this.waker.signal());
    if (this.deps.database.dialect.capabilities.listenNotify && this.deps.databaseUrl) {
      this.listener = listenForWakeups(
        this.deps.databaseUrl,
        () => this.waker.signal(),
        this.deps.logger,
        () => {
          if (heard(this.events, 'listening')) this.events.emit('listening');
        },
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
    this.waker.signal();
    this.stopWakeups?.();
    await this.listener?.close();
    await this.loopDone;
    await this.queue.giveBackWaiting();
    const drained = await Promise.race([
      Promise.all([...this.inflight.values()]).then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), drainMs).unref()),
    ]);
    if (!drained) {
      const released = await this.queue.release([...this.inflight.keys()]);
      this.deps.logger.warn(
        { released },
        'worker stopped with attempts in flight; their claims were released',
      );
    }
  }

  private async loop(): Promise<void> {
    const { logger } = this.deps;
    while (this.running) {
      this.waker.reset();
      let full = false;
      try {
        // Let every attempt that finished in this turn of the event loop give
        // back its slot first: one claim for all of them, not one claim each.
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.launch();
        const free = this.queue.room(this.inflight.size);
        // Claim in batches: wait until a quarter of the room is free, unless
        // nothing is left to start (then any free slot is worth a claim).
        const claimNow = free > 0 && (free >= this.queue.minClaim || this.queue.waiting === 0);
        // When claims are finding only what just committed (not a backlog), take
        // a few milliseconds' worth at a time: one claim per event would cost
        // more than the deliveries themselves under a steady stream of events.
        const sinceLast = performance.now() - this.lastClaim.at;
        if (claimNow && !this.lastClaim.full && sinceLast < CLAIM_PACE_MS)
          await new Promise((resolve) => setTimeout(resolve, CLAIM_PACE_MS - sinceLast));
        this.deferredInClaim = false;
        const claimed = claimNow ? await this.claimPaced(free) : 0;
        this.launch();
        full = this.queue.room(this.inflight.size) <= 0;
        // A full batch means more may be due right now; so does a claim whose
        // rate-limited deliveries went back to wait, leaving their slots free.
        if (!full && ((claimed > 0 && claimed === free) || this.deferredInClaim)) continue;
        if (full || !claimNow) {
          await this.sleep(this.pollIntervalMs); // a freed slot wakes the loop
          continue;
        }
        const { wait, dueAt } = await this.nextDue.wait(this.queue.saturated(performance.now()));
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

  /** Sleeps until `ms` pass or a wake-up, a freed slot or a scheduled retry signals. */
  private sleep(ms: number): Promise<void> {
    // Told only of sleeps that happen: a pending signal ends this one at once.
    if (!this.waker.signalled) {
      if (heard(this.events, 'sleeping')) this.events.emit('sleeping', { ms });
      if (this.inflight.size === 0 && this.queue.waiting === 0 && heard(this.events, 'idle'))
        this.events.emit('idle');
    }
    return this.waker.sleep(ms);
  }

  /** Notes a retry this worker just scheduled (see `NextDue`). */
  private scheduled(at: number): void {
    // The sleep in progress was computed without it.
    if (this.nextDue.scheduled(at)) this.waker.signal();
  }

  /** A claim, noting when it ran and whether it filled its limit (a backlog is waiting). */
  private async claimPaced(limit: number): Promise<number> {
    const at = performance.now();
    const asOf = this.deps.clock.now();
    const claimed = await this.queue.claim(limit, asOf);
    // A claim that filled its limit, or took a webhook's whole per-claim share,
    // found a backlog: the next one is not paced.
    this.lastClaim = { at, asOf, full: claimed >= limit || claimed >= this.perWebhook };
    return claimed;
  }

  /** Starts what the local queue has ready, while slots are free. */
  private launch(): void {
    this.queue.launch((r) => this.begin(r));
  }

  private begin(r: ReadyDelivery): void {
    let freed = false;
    // Gives back the request slot: once the answer is in, or when the task ends.
    const free = (result?: AttemptResult) => {
      if (freed) return;
      freed = true;
      this.queue.finished(r, result);
      this.waker.signal();
    };
    const task = this.attempts.run(r.delivery, r.hook, free).finally(() => {
      free();
      this.inflight.delete(r.delivery.id);
      this.waker.signal();
    });
    this.inflight.set(r.delivery.id, task);
  }
}
