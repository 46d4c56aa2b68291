/**
 * Attempt numbers for `hookdesk listen`. Hookdesk sends no attempt number:
 * every attempt of a delivery carries the same delivery id
 * (`X-Webhook-Delivery`, `webhook-id`), so the listener counts the attempts
 * of each id it has itself received. The count starts when this listener
 * first saw the id: attempts made before it started, or answered by another
 * receiver, are not in it.
 */

/** Delivery ids remembered; past this the one seen longest ago is forgotten. */
export const ATTEMPT_MEMORY = 10_000;

/** Longer ids are not counted, so memory stays bounded whatever a sender puts in the header. */
export const ATTEMPT_ID_MAX_CHARS = 200;

export interface Sighting {
  /** 1 for the first request with this id this listener saw, then 2, 3… */
  attempt: number;
  /** When this listener first saw the id (epoch ms). */
  firstSeenAt: number;
}

export class AttemptCounter {
  // A Map iterates in insertion order; re-inserting on every sighting keeps
  // the id seen longest ago first, so a delivery still retrying is never the
  // one forgotten.
  private readonly seen = new Map<string, Sighting>();

  /** @param capacity ids remembered (Default: ATTEMPT_MEMORY). */
  constructor(private readonly capacity: number = ATTEMPT_MEMORY) {}

  /** Counts one more request for `deliveryId` at `now`; null when the id is too long to count. */
  record(deliveryId: string, now: number): Sighting | null {
    if (deliveryId.length > ATTEMPT_ID_MAX_CHARS) return null;
    const previous = this.seen.get(deliveryId);
    const sighting: Sighting = previous
      ? { attempt: previous.attempt + 1, firstSeenAt: previous.firstSeenAt }
      : { attempt: 1, firstSeenAt: now };
    this.seen.delete(deliveryId);
    if (this.seen.size >= this.capacity) {
      const oldest = this.seen.keys().next();
      if (!oldest.done) this.seen.delete(oldest.value);
    }
    this.seen.set(deliveryId, sighting);
    return sighting;
  }

  /** Ids remembered now (at most the capacity). */
  get size(): number {
    return this.seen.size;
  }
}
