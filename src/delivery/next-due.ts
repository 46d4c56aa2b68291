/**
 * When the delivery worker's loop should look again: the database's answer to
 * "when is the next claimable delivery due", asked at most once a second
 * while its answer is still in the future (a new delivery wakes the loop
 * anyway), and the retries this worker schedules itself, known here without
 * asking.
 */
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import { earliest } from '../db/queue-rows.js';
import type { Database } from '../db/schema.js';
import { nextWakeAt } from './queue/leases.js';

export class NextDue {
  /** The database's answer, when it was asked, and for which saturated webhooks. */
  private cached: { at: number | null; checkedAt: number; key: string } | null = null;
  /** The earliest retry this worker scheduled that is still in the future. */
  private local: number | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly pollIntervalMs: number,
  ) {}

  /**
   * How long to sleep until something becomes claimable, and when that is
   * (null: nothing is pending or leased). Webhooks at their bound
   * (`saturated`) wake the loop when a request of theirs ends; what matters
   * here is when anything else becomes due.
   */
  async wait(saturated: string[]): Promise<{ wait: number; dueAt: number | null }> {
    const now = this.clock.now();
    const key = saturated.sort().join(',');
    // Only the earliest local retry is kept: once it is due, later ones this
    // worker scheduled are known only to the database, so ask it again (a
    // cached "nothing due" would otherwise sleep through them until the poll).
    if (this.local !== null && this.local <= now) {
      this.local = null;
      this.cached = null;
    }
    const cached = this.cached;
    if (
      cached === null ||
      cached.key !== key ||
      now - cached.checkedAt >= 1_000 ||
      (cached.at !== null && cached.at <= now)
    ) {
      this.cached = { at: await nextWakeAt(this.db, saturated), checkedAt: now, key };
    }
    const dueAt = earliest(this.cached!.at, this.local);
    if (dueAt === null) return { wait: this.pollIntervalMs, dueAt };
    return { wait: Math.min(this.pollIntervalMs, Math.max(0, dueAt - now)), dueAt };
  }

  /**
   * Notes a retry this worker just scheduled. True when it falls due within
   * the poll interval: a sleep in progress was computed without it.
   */
  scheduled(at: number): boolean {
    if (this.local === null || at < this.local) this.local = at;
    return at - this.clock.now() < this.pollIntervalMs;
  }
}
