/**
 * Fairness between organizations and destination hosts inside one delivery
 * worker (docs/operations.md, "Fairness between organizations and hosts").
 *
 * The per-webhook bound keeps one endpoint from taking every slot, but one
 * organization with many webhooks pointing at endpoints that never answer
 * (tarpits) could still hold them all for a whole timeout each, and every
 * other organization's deliveries would wait behind them. Slots cannot be
 * taken back once a request is on the wire, so the bound must hold before
 * the request starts.
 *
 * Deliveries to webhooks not known to be fast (no answer measured yet, or
 * answers that take a second or more on average) are "slow holds": one
 * organization, and one destination host, may have at most `share` of them
 * claimed or on the wire in this worker. Webhooks that answer quickly are not
 * limited beyond the per-webhook bound, so a busy organization with healthy
 * endpoints still uses every slot (a share that bound everyone would waste
 * slots whenever one tenant is alone).
 *
 * A webhook not known to be slow (never measured, or fast until its last
 * measurement went stale) may always have one delivery out as a probe, even
 * when its organization or host has its share: otherwise a new, healthy
 * webhook on a host that a tarpit fills would wait for the tarpit's timeouts
 * before it could show that it is fast. A tarpit's probe is measured slow,
 * and slow is remembered: it gets no more probes.
 */

/** Average attempt duration at or above which a webhook's deliveries are slow holds. */
export const SLOW_ATTEMPT_MS = 1_000;
/** A webhook measured longer ago than this is unknown again. */
const SPEED_MEMORY_MS = 60_000;
/** Weight of the newest duration in the moving average. */
const NEWEST_WEIGHT = 0.3;
/** Webhooks remembered at most; the oldest is forgotten first. */
const REMEMBERED = 10_000;

/** Where a slow hold is counted; released exactly once. */
export interface Hold {
  readonly webhookId: string;
  readonly organizationId: string;
  readonly host: string;
}

interface Destination {
  organizationId: string;
  host: string;
  /** Slow holds of this webhook now. */
  holds: number;
  /** Moving average of attempt durations, ms; null before the first. */
  averageMs: number | null;
  measuredAt: number;
}

export interface FairnessOptions {
  /** Attempts on the wire in this worker. */
  concurrency: number;
  /** Attempts on the wire per webhook: the smallest share, so one slow webhook behaves as before. */
  perWebhook: number;
  /** Percentage of `concurrency` one organization, or one host, may hold with slow holds. (Default: 25) */
  slowSharePercent?: number;
}

export class Fairness {
  /** Slow holds one organization, or one destination host, may have at once. */
  readonly share: number;
  private readonly hooks = new Map<string, Destination>();
  private readonly byOrganization = new Map<string, number>();
  private readonly byHost = new Map<string, number>();

  constructor(o: FairnessOptions) {
    const percent = o.slowSharePercent ?? 25;
    this.share = Math.max(o.perWebhook, Math.ceil((o.concurrency * percent) / 100));
  }

  /** Notes where a webhook's deliveries go (from a claim). */
  learn(webhookId: string, organizationId: string, url: string): void {
    const known = this.hooks.get(webhookId);
    const host = hostOf(url);
    if (known) {
      known.organizationId = organizationId;
      known.host = host;
      return;
    }
    if (this.hooks.size >= REMEMBERED) this.hooks.delete(this.hooks.keys().next().value!);
    this.hooks.set(webhookId, { organizationId, host, holds: 0, averageMs: null, measuredAt: 0 });
  }

  /** Notes how long an attempt took (any outcome: a timeout counts its whole wait). */
  measured(webhookId: string, durationMs: number, now: number): void {
    const d = this.hooks.get(webhookId);
    if (!d) return;
    const fresh = d.averageMs !== null && now - d.measuredAt < SPEED_MEMORY_MS;
    d.averageMs = fresh
      ? NEWEST_WEIGHT * durationMs + (1 - NEWEST_WEIGHT) * d.averageMs!
      : durationMs;
    d.measuredAt = now;
  }

  /** Whether the webhook answered quickly, on average, within the last minute. */
  isFast(webhookId: string, now: number): boolean {
    const d = this.hooks.get(webhookId);
    return (
      d !== undefined &&
      d.averageMs !== null &&
      d.averageMs < SLOW_ATTEMPT_MS &&
      now - d.measuredAt < SPEED_MEMORY_MS
    );
  }

  /**
   * Takes a slow hold for one more delivery of this webhook, if it needs one.
   * `null`: no hold needed (a fast webhook); `'over'`: its organization or
   * host has its share already, so the delivery must wait.
   */
  admit(webhookId: string, now: number): Hold | null | 'over' {
    if (this.isFast(webhookId, now)) return null;
    const d = this.hooks.get(webhookId);
    // Never claimed with its webhook (deleted meanwhile): nothing to count it against.
    if (!d) return null;
    if (this.full(d) && !this.mayProbe(d)) return 'over';
    const hold = { webhookId, organizationId: d.organizationId, host: d.host };
    d.holds += 1;
    bump(this.byOrganization, hold.organizationId, 1);
    bump(this.byHost, hold.host, 1);
    return hold;
  }

  release(hold: Hold | null): void {
    if (!hold) return;
    const d = this.hooks.get(hold.webhookId);
    if (d && d.holds > 0) d.holds -= 1;
    bump(this.byOrganization, hold.organizationId, -1);
    bump(this.byHost, hold.host, -1);
  }

  /** Known webhooks whose next delivery `admit` would refuse now: not worth claiming. */
  refused(now: number): string[] {
    if (!anyAtLeast(this.byOrganization, this.share) && !anyAtLeast(this.byHost, this.share))
      return [];
    const ids: string[] = [];
    for (const [id, d] of this.hooks) {
      if (this.full(d) && !this.mayProbe(d) && !this.isFast(id, now)) ids.push(id);
    }
    return ids;
  }

  /** One delivery out at a time for a webhook not known to be slow (see the file comment). */
  private mayProbe(d: Destination): boolean {
    return d.holds === 0 && (d.averageMs === null || d.averageMs < SLOW_ATTEMPT_MS);
  }

  private full(d: Destination): boolean {
    return (
      (this.byOrganization.get(d.organizationId) ?? 0) >= this.share ||
      (this.byHost.get(d.host) ?? 0) >= this.share
    );
  }
}

function anyAtLeast(counts: Map<string, number>, n: number): boolean {
  for (const c of counts.values()) if (c >= n) return true;
  return false;
}

function bump(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

/** `host:port` as the URL spells it, lower-cased; the whole string if it does not parse. */
function hostOf(url: string): string {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return url;
  }
}
