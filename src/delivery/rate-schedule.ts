/**
 * The arithmetic of a per-webhook rate limit (./rate-limit.ts), as pure
 * functions: test/rate-limit.test.ts checks them without a database.
 *
 * Up to a tenth of a second's worth of attempts may start at once (the
 * burst), so that high limits do not cost a deferral per attempt; below 10
 * per second there is no burst and starts are exactly 1/limit apart. By the
 * generic cell rate algorithm's bound, any one second sees at most
 * limit + burst + 1 starts, + 1 more for a reserved start taken up to half
 * an interval late (`lateForSlot`): within the contract's twice the limit
 * for every limit from 1 up, and the long-run average is the limit.
 */

/** Attempts that may start ahead of the schedule: a tenth of a second's worth. */
export function burstOf(limitPerSecond: number): number {
  return Math.floor(limitPerSecond / 10);
}

export interface Schedule {
  /** Clock time each charged attempt may start, in order. */
  starts: number[];
  /** The schedule's next free start after these. */
  next: number;
}

/**
 * The starts of `count` attempts charged now to a limit whose schedule is at
 * `scheduledAt` (null: never used). Pure: the caller holds the row lock.
 */
export function scheduleStarts(
  scheduledAt: number | null,
  now: number,
  limitPerSecond: number,
  count: number,
): Schedule {
  const interval = 1000 / limitPerSecond;
  // An idle limit does not bank the time it was idle: the schedule restarts now.
  let at = Math.max(now, scheduledAt ?? now);
  const starts: number[] = [];
  for (let i = 0; i < count; i++) {
    starts.push(at);
    at += interval;
  }
  return { starts, next: at };
}

/** True when an attempt given `start` may begin at `now`: within the burst tolerance. */
export function startsNow(start: number, now: number, limitPerSecond: number): boolean {
  return start - now <= burstOf(limitPerSecond) * (1000 / limitPerSecond);
}

/**
 * True when a delivery given the start `slot` is claimed too late to use it:
 * more than half an interval after it. Starts are an interval apart, so
 * letting each go up to half an interval late keeps any one second within
 * limit + 2 starts; a worker that stalled for seconds would otherwise send a
 * whole run of reserved starts at once.
 */
export function lateForSlot(slot: number, now: number, limitPerSecond: number): boolean {
  return now - slot > 500 / limitPerSecond;
}
