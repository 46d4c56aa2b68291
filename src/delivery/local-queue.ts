/**
 * The delivery worker's local queue (graphile-worker's `LocalQueue`): it
 * claims deliveries ahead of the free slots, holds them until a slot frees,
 * and gives back what it cannot use, so that a slot that frees starts its
 * next request at once instead of waiting for a claim.
 *
 * It also keeps the slot count the claims depend on: requests on the wire
 * overall (`concurrency`) and per webhook (`perWebhook`), when each webhook
 * last answered (`capFor`), and the slow holds of organizations and hosts
 * (./fairness.ts).
 */
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/dialect.js';
import type { Logger } from '../logger.js';
import { Fairness, type Hold } from './fairness.js';
import { claimWithWebhooks, type ClaimedDelivery, type ClaimedWebhook } from './queue/claim.js';
import { applyRateLimits } from './rate-limit.js';
import { releaseClaims } from './queue/leases.js';
import type { AttemptResult } from './sender.js';
import { heard, type WorkerEvents } from './worker-events.js';

/** A claimed delivery waiting for a slot. */
export interface ReadyDelivery {
  delivery: ClaimedDelivery;
  /** Undefined when the webhook was deleted meanwhile. */
  hook: ClaimedWebhook | undefined;
  /** performance.now() at the claim. */
  claimedAt: number;
  hold: Hold | null;
}

export interface LocalQueueOptions {
  /** The lease owner: the worker's id. */
  owner: string;
  concurrency: number;
  perWebhook: number;
  slowSharePercent?: number | undefined;
  leaseMs: number;
  timeoutMs: number;
  /**
   * Told when a claim put deliveries back to wait for their webhook's rate
   * limit (./rate-limit.ts), with the earliest start it gave them: they hold
   * no slot, so the caller may claim again at once, and must wake by then.
   */
  onDeferred?: (earliest: number) => void;
}

export interface LocalQueueDeps {
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  events: WorkerEvents;
}

export class LocalQueue {
  /** Claims of a quarter of the room at least (see the constructor). */
  readonly minClaim: number;
  /** Claimed, not started yet: waiting for a free slot (at most `prefetch` beyond the free slots). */
  private readonly ready: ReadyDelivery[] = [];
  private readonly readyPerHook = new Map<string, number>();
  /** Requests on the wire: what `concurrency` bounds. */
  private sending = 0;
  /** Requests on the wire per webhook: what `perWebhook` bounds. */
  private readonly perHook = new Map<string, number>();
  /** When each webhook last answered (any HTTP response), for `capFor`. */
  private readonly answeredAt = new Map<string, number>();
  /** Shares of slots between organizations and hosts, for slow endpoints. */
  private readonly fairness: Fairness;
  private readonly prefetch: number;
  private readonly maxReadyMs: number;

  constructor(
    private readonly deps: LocalQueueDeps,
    private readonly opts: LocalQueueOptions,
  ) {
    this.fairness = new Fairness({
      concurrency: opts.concurrency,
      perWebhook: opts.perWebhook,
      slowSharePercent: opts.slowSharePercent,
    });
    // As many claimed ahead as on the wire: claims (and so transactions) of a
    // quarter of that room, 16 at the default concurrency, cost 9 % less CPU
    // per delivery than claims of 12 (bench/RESULTS.md).
    this.prefetch = opts.concurrency;
    this.minClaim = Math.max(1, Math.floor((opts.concurrency + this.prefetch) / 4));
    this.maxReadyMs = Math.min(opts.timeoutMs, 5_000);
  }

  /** Claimed deliveries waiting for a slot. */
  get waiting(): number {
    return this.ready.length;
  }

  /** Slots free on the wire now. */
  get free(): number {
    return this.opts.concurrency - this.sending;
  }

  /**
   * How many more deliveries may be claimed now. `concurrency` bounds the
   * requests on the wire; besides those, up to as many are claimed ahead
   * (`ready`), so that a slot that frees starts its next request at once
   * instead of waiting for a claim. A slot is free as soon as its answer is
   * in, while its outcome is still being written (in a batch with others);
   * claimed deliveries not yet recorded (`unrecorded`, those started
   * included) are bounded too, by 3 × `concurrency`.
   */
  room(unrecorded: number): number {
    return Math.min(
      this.opts.concurrency + this.prefetch - this.sending - this.ready.length,
      3 * this.opts.concurrency - this.ready.length - unrecorded,
    );
  }

  /**
   * Webhooks this worker holds as many deliveries of as it may (see `capFor`),
   * and slow ones whose organization or host has its share (see `Fairness`).
   */
  saturated(now: number): string[] {
    const ids = new Set([...this.perHook.keys(), ...this.readyPerHook.keys()]);
    const full = [...ids].filter((id) => this.heldFor(id) >= this.capFor(id, now));
    const refused = this.fairness.refused(now);
    return refused.length === 0 ? full : [...new Set([...full, ...refused])];
  }

  /** Claims up to `limit` due deliveries (as of clock time `asOf`) into `ready`; returns how many it kept. */
  async claim(limit: number, asOf: number): Promise<number> {
    if (limit <= 0) return 0;
    const { db } = this.deps.database;
    const now = performance.now();
    for (const [id, at] of this.answeredAt) if (now - at >= 1_000) this.answeredAt.delete(id);
    const { deliveries: all, webhooks: byId } = await claimWithWebhooks(db, {
      owner: this.opts.owner,
      now: asOf,
      leaseMs: this.opts.leaseMs,
      limit,
      perWebhook: this.opts.perWebhook,
      excludeWebhookIds: this.saturated(now),
    });
    const limited = await applyRateLimits(db, this.opts.owner, all, byId, asOf);
    const claimed = limited.send;
    if (limited.earliestDeferred !== null) this.opts.onDeferred?.(limited.earliestDeferred);
    // The kept deliveries are collected only for a listener.
    const told = heard(this.deps.events, 'claimed') ? [] : null;
    const kept = claimed.length === 0 ? 0 : await this.keep(claimed, byId, now, told);
    if (told) this.deps.events.emit('claimed', { deliveries: told, asOf });
    return kept;
  }

  /**
   * Starts claimed deliveries, oldest first, while slots are free (`start`
   * is called with each). One that waited for a slot longer than
   * `maxReadyMs` (every slot held by slow endpoints) is given back instead,
   * so that a start never eats into the margin its lease keeps for the
   * attempt and its recording.
   */
  launch(start: (ready: ReadyDelivery) => void): void {
    const stale: string[] = [];
    const now = performance.now();
    for (let i = 0; i < this.ready.length && this.sending < this.opts.concurrency;) {
      const r = this.ready[i]!;
      const webhookId = r.delivery.webhook_id;
      if (now - r.claimedAt > this.maxReadyMs) {
        this.ready.splice(i, 1);
        this.countReady(webhookId, -1);
        this.fairness.release(r.hold);
        stale.push(r.delivery.id);
        continue;
      }
      if ((this.perHook.get(webhookId) ?? 0) >= this.opts.perWebhook) {
        i += 1;
        continue;
      }
      this.ready.splice(i, 1);
      this.countReady(webhookId, -1);
      this.sending += 1;
      this.perHook.set(webhookId, (this.perHook.get(webhookId) ?? 0) + 1);
      start(r);
    }
    if (stale.length > 0) void this.giveBack(stale);
  }

  /**
   * Gives back the slot of a started delivery: once its answer is in
   * (`result`, measured for fairness and `capFor`), or when its task ends.
   * Call exactly once per started delivery.
   */
  finished(r: ReadyDelivery, result: AttemptResult | undefined): void {
    const webhookId = r.delivery.webhook_id;
    if (result) {
      const now = performance.now();
      this.fairness.measured(webhookId, result.durationMs, now);
      if (result.statusCode !== null) this.answeredAt.set(webhookId, now);
    }
    this.fairness.release(r.hold);
    this.sending -= 1;
    const left = (this.perHook.get(webhookId) ?? 1) - 1;
    if (left > 0) this.perHook.set(webhookId, left);
    else this.perHook.delete(webhookId);
  }

  /** On stop: gives back at once every claimed delivery not started. */
  async giveBackWaiting(): Promise<void> {
    const unstarted = this.ready.splice(0);
    this.readyPerHook.clear();
    for (const r of unstarted) this.fairness.release(r.hold);
    await this.giveBack(unstarted.map((r) => r.delivery.id));
  }

  /** Gives claims back (due now), for another worker to take at once; returns how many. */
  release(ids: readonly string[]): Promise<number> {
    return releaseClaims(this.deps.database.db, this.opts.owner, ids, this.deps.clock.now());
  }

  private async giveBack(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    try {
      await this.release(ids);
    } catch (error) {
      // Their leases run out and another pass takes them.
      this.deps.logger.warn({ err: error }, 'could not give back claimed deliveries');
    }
  }

  /**
   * Keeps what this worker has room for. The claim caps each webhook at
   * `perWebhook` rows, not at the room this process has left for it, nor at
   * its organization's and host's share of slow holds; the excess goes
   * straight back, due as before.
   */
  private async keep(
    claimed: readonly ClaimedDelivery[],
    byId: ReadonlyMap<string, ClaimedWebhook>,
    now: number,
    told: ClaimedDelivery[] | null,
  ): Promise<number> {
    const excess: string[] = [];
    let kept = 0;
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
      told?.push(delivery);
      this.ready.push({ delivery, hook, claimedAt: now, hold });
      this.countReady(delivery.webhook_id, 1);
    }
    if (excess.length > 0) await this.release(excess);
    return kept;
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
    return answered !== undefined && now - answered < 1_000
      ? 2 * this.opts.perWebhook
      : this.opts.perWebhook;
  }

  private countReady(webhookId: string, delta: number): void {
    const n = (this.readyPerHook.get(webhookId) ?? 0) + delta;
    if (n > 0) this.readyPerHook.set(webhookId, n);
    else this.readyPerHook.delete(webhookId);
  }
}
