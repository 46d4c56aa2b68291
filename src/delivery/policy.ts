/**
 * What happens after an attempt, as plain functions: given the facts (the
 * attempt's result, the delivery's and the webhook's state, the time) they
 * decide, and the queue code (`queue/outcome.ts`) only executes the decision
 * in SQL. Each rule is one line below, in order, the first that applies
 * wins; test/delivery-policy.test.ts holds one row per case. A new rule
 * (a `Retry-After` header, `410 Gone`, rate limits) is a new line here and
 * a new row there: the attempt's status code and headers are already part
 * of the input, and the executor already acts on every kind of decision.
 *
 * The decision comes in two steps because its facts arrive in two. The
 * delivery's fate and the change to the webhook's failure streak follow from
 * the rows read before writing (`decideOutcome`). Whether the webhook is
 * disabled follows from the streak as the database counted it
 * (`decideDisable`): the count is an atomic `consecutive_failures + 1 …
 * RETURNING`, because workers in other processes may be counting failures of
 * the same webhook at the same moment, so a count read beforehand could be stale.
 *
 * What the receiver answered matters beyond success or failure in two cases
 * (docs/webhooks.md, "Retries"): a `Retry-After` on a 429 or 503 can push
 * the next attempt later (never sooner, never past a day), and a `410 Gone`
 * ends the delivery and disables the webhook at once.
 */
import type { DeliveryStatus } from '../db/schema.js';
import type { AttemptResult } from './sender.js';

/** Failed attempts in a row after which a webhook is disabled. */
export const DISABLE_AFTER_CONSECUTIVE_FAILURES = 10;

/** The receiver's word that the endpoint is gone for good. */
export const GONE = 410;

/** Statuses whose `Retry-After` header is honoured: too many requests, unavailable. */
const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/**
 * The longest a receiver's `Retry-After` may hold a delivery back: a receiver
 * asking for a week would otherwise park deliveries past every retention.
 */
export const RETRY_AFTER_CAP_MS = 24 * 60 * 60 * 1000;

/**
 * What the policy reads of an attempt; the queue passes the whole
 * `AttemptResult`. The response's status code and headers are in it so that
 * rules about them need no new plumbing.
 */
export type AttemptFacts = Pick<
  AttemptResult,
  'success' | 'statusCode' | 'responseHeaders' | 'error'
>;

/** Everything `decideOutcome` decides from: the rows as read before writing. */
export interface OutcomeInput {
  attempt: AttemptFacts;
  delivery: {
    /** Attempts made before this one. */
    attemptCount: number;
    /** Attempts this delivery may make in all (1 + its webhook's retry policy when created). */
    attemptsAllowed: number;
    /** A test delivery: its result never counts toward the webhook's failure streak. */
    isTest: boolean;
  };
  webhook: {
    active: boolean;
    /** Seconds to wait before each retry; the last delay repeats if the policy got shorter. */
    retryPolicy: readonly number[];
  };
  /** Epoch milliseconds, from the injected clock. */
  now: number;
}

/** How the webhook's consecutive-failure count changes (`last_delivery_at` moves unless `keep`). */
export type StreakChange = 'reset' | 'count' | 'keep';

export interface Decision {
  /** The delivery's new status. */
  status: Exclude<DeliveryStatus, 'delivering'>;
  /** This attempt's number (1 for the first). */
  attemptNumber: number;
  /** When to try again; null unless `pending`. */
  nextAttemptAt: number | null;
  /** Null while the delivery may still be attempted. */
  completedAt: number | null;
  streak: StreakChange;
}

/** The webhook's streak and active flag as the database returned them after counting. */
export interface CountedStreak {
  consecutiveFailures: number;
  active: boolean;
}

export interface DisableInput {
  /** What `decideOutcome` decided from: rules about the response itself read it. */
  outcome: OutcomeInput;
  /** Null when this attempt was not counted (a success, or a test delivery). */
  counted: CountedStreak | null;
}

/** Why a webhook was disabled (its `disabled_reason`). */
export type DisableReason = 'consecutive_failures' | 'gone';

/**
 * True when an attempt's decision depends on nothing but the attempt and
 * whether its delivery is a test: `succeeded`, and the streak reset unless a
 * test. The batched path writes these in bulk without reading the delivery's
 * or the webhook's row; the policy test checks that `decideOutcome` agrees.
 */
export function succeedsOutright(attempt: AttemptFacts): boolean {
  return attempt.success;
}

export function decideOutcome(input: OutcomeInput): Decision {
  const { attempt, delivery, webhook, now } = input;
  const attemptNumber = delivery.attemptCount + 1;
  // Test deliveries never count toward the failure streak.
  const streak: StreakChange = delivery.isTest ? 'keep' : attempt.success ? 'reset' : 'count';
  const finished = (status: Decision['status']): Decision => ({
    status,
    attemptNumber,
    nextAttemptAt: null,
    completedAt: now,
    streak,
  });

  if (attempt.success) return finished('succeeded');
  // Gone for good: no retry could succeed (and `decideDisable` disables the webhook).
  if (attempt.statusCode === GONE) return finished('failed');
  // A disabled webhook's retries are cancelled; a test of one still reports `failed`.
  if (!webhook.active && !delivery.isTest) return finished('cancelled');
  const policy = webhook.retryPolicy;
  if (attemptNumber < delivery.attemptsAllowed && policy.length > 0) {
    const delayMs = policy[Math.min(attemptNumber - 1, policy.length - 1)]! * 1000;
    // The receiver may ask for a longer wait, never a shorter one.
    const askedMs = retryAfterMs(attempt, now) ?? 0;
    return {
      status: 'pending',
      attemptNumber,
      nextAttemptAt: now + Math.max(delayMs, askedMs),
      completedAt: null,
      streak,
    };
  }
  // Retry-After only delays retries the policy grants; it never adds one.
  return finished('failed');
}

/**
 * How long the receiver asked to wait, in milliseconds from `now`, capped at
 * `RETRY_AFTER_CAP_MS`; null when it did not ask: another status, no header,
 * a value that is neither delta-seconds nor an HTTP date, or a date not in
 * the future.
 */
export function retryAfterMs(attempt: AttemptFacts, now: number): number | null {
  if (attempt.statusCode === null || !RETRY_AFTER_STATUSES.has(attempt.statusCode)) return null;
  const value = attempt.responseHeaders?.['retry-after']?.trim();
  if (!value) return null;
  let ms: number | null;
  if (/^\d+$/.test(value)) ms = Number(value) * 1000;
  else {
    const at = parseHttpDate(value, now);
    ms = at === null ? null : at - now;
  }
  if (ms === null || !(ms > 0)) return null;
  return Math.min(ms, RETRY_AFTER_CAP_MS);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(?<month>${MONTHS.join('|')})`;
const TIME = '(?<h>\\d{2}):(?<m>\\d{2}):(?<s>\\d{2})';
/** The three forms of an HTTP date; senders must use the first, receivers accept all. */
const HTTP_DATES = [
  // Sun, 06 Nov 1994 08:49:37 GMT
  new RegExp(`^${DAY}, (?<day>\\d{2}) ${MONTH} (?<year>\\d{4}) ${TIME} GMT$`),
  // Sunday, 06-Nov-94 08:49:37 GMT (obsolete)
  new RegExp(`^${LONG_DAY}, (?<day>\\d{2})-${MONTH}-(?<yy>\\d{2}) ${TIME} GMT$`),
  // Sun Nov  6 08:49:37 1994 (C's asctime; obsolete)
  new RegExp(`^${DAY} ${MONTH} (?<day>[ \\d]\\d) ${TIME} (?<year>\\d{4})$`),
];

/**
 * An HTTP date in epoch milliseconds, or null. Strict on purpose: `Date.parse`
 * reads almost anything as some date (`"5 min"` is a day in 2001).
 */
export function parseHttpDate(value: string, now: number): number | null {
  const g = HTTP_DATES.map((re) => re.exec(value)?.groups).find(Boolean);
  if (!g) return null;
  let year = Number(g.year);
  if (g.yy !== undefined) {
    // A two-digit year more than 50 years ahead is in the past century.
    year = 2000 + Number(g.yy);
    if (year > new Date(now).getUTCFullYear() + 50) year -= 100;
  }
  const [month, day] = [MONTHS.indexOf(g.month!), Number(g.day)];
  const [h, m, s] = [Number(g.h), Number(g.m), Number(g.s)];
  const at = Date.UTC(year, month, day, h, m, s);
  const d = new Date(at);
  // No rolling over: 31 Feb or 25:00 is no date.
  const exact =
    d.getUTCFullYear() === year &&
    d.getUTCMonth() === month &&
    d.getUTCDate() === day &&
    d.getUTCHours() === h &&
    d.getUTCMinutes() === m &&
    d.getUTCSeconds() === s;
  return exact ? at : null;
}

/**
 * Whether to disable the webhook, and why. The executor disables it only if
 * it is still active when it does (the transaction that flips `active` is
 * the one that tells the admins), so deciding yes twice is harmless.
 *
 * Only a counted failure disables: a test delivery is never counted, so
 * not even a `410 Gone` to a test disables the webhook (the test is the
 * admin checking the endpoint, and its answer is shown to them).
 */
export function decideDisable({ outcome, counted }: DisableInput): DisableReason | null {
  if (!counted?.active) return null;
  if (outcome.attempt.statusCode === GONE) return 'gone';
  if (counted.consecutiveFailures >= DISABLE_AFTER_CONSECUTIVE_FAILURES) {
    return 'consecutive_failures';
  }
  return null;
}
