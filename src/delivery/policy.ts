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
 */
import type { DeliveryStatus } from '../db/schema.js';
import type { AttemptResult } from './sender.js';

/** Failed attempts in a row after which a webhook is disabled. */
export const DISABLE_AFTER_CONSECUTIVE_FAILURES = 10;

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
export type DisableReason = 'consecutive_failures';

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
  // A disabled webhook's retries are cancelled; a test of one still reports `failed`.
  if (!webhook.active && !delivery.isTest) return finished('cancelled');
  const policy = webhook.retryPolicy;
  if (attemptNumber < delivery.attemptsAllowed && policy.length > 0) {
    const delayS = policy[Math.min(attemptNumber - 1, policy.length - 1)]!;
    return {
      status: 'pending',
      attemptNumber,
      nextAttemptAt: now + delayS * 1000,
      completedAt: null,
      streak,
    };
  }
  return finished('failed');
}

/**
 * Whether to disable the webhook, and why. The executor disables it only if
 * it is still active when it does (the transaction that flips `active` is
 * the one that tells the admins), so deciding yes twice is harmless.
 */
export function decideDisable({ counted }: DisableInput): DisableReason | null {
  if (counted?.active && counted.consecutiveFailures >= DISABLE_AFTER_CONSECUTIVE_FAILURES) {
    return 'consecutive_failures';
  }
  return null;
}
