/**
 * What happens after an attempt, as a table: one row per case, each the
 * facts the queue reads (and, for a counted failure, the streak as the
 * database counted it) and the whole decision expected. No database: the
 * policy is plain functions; the storage suites check the queue executes it.
 */
import { describe, expect, it } from 'vitest';
import {
  decideDisable,
  decideOutcome,
  succeedsOutright,
  type AttemptFacts,
  type CountedStreak,
  type Decision,
  type DisableReason,
  type OutcomeInput,
} from '../src/delivery/policy.js';

const NOW = 1_700_000_000_000;
const POLICY = [1, 5, 30, 300, 1800, 7200];

const ok = (statusCode = 200): AttemptFacts => ({
  success: true,
  statusCode,
  responseHeaders: {},
  error: null,
});
const httpError = (statusCode: number): AttemptFacts => ({
  success: false,
  statusCode,
  responseHeaders: {},
  error: null,
});
/** A failed answer with a `Retry-After` header (names are lower-case, as the sender keeps them). */
const retryAfter = (statusCode: number, value: string): AttemptFacts => ({
  success: false,
  statusCode,
  responseHeaders: { 'retry-after': value, 'content-type': 'text/plain' },
  error: null,
});
/** `NOW + seconds` as an IMF-fixdate, the form servers send. */
const httpDate = (seconds: number) => new Date(NOW + seconds * 1000).toUTCString();
const DAY_S = 24 * 60 * 60;
const noResponse = (code: string): AttemptFacts => ({
  success: false,
  statusCode: null,
  responseHeaders: null,
  error: { code, message: 'no response' },
});

interface Facts {
  attempt: AttemptFacts;
  attemptCount?: number;
  attemptsAllowed?: number;
  isTest?: boolean;
  active?: boolean;
  retryPolicy?: readonly number[];
}

/** Defaults: a live webhook with the default policy, a delivery's first attempt. */
function facts(f: Facts): OutcomeInput {
  return {
    attempt: f.attempt,
    delivery: {
      attemptCount: f.attemptCount ?? 0,
      attemptsAllowed: f.attemptsAllowed ?? 1 + POLICY.length,
      isTest: f.isTest ?? false,
    },
    webhook: { active: f.active ?? true, retryPolicy: f.retryPolicy ?? POLICY },
    now: NOW,
  };
}

/** The streak as the database returns it after counting this failure. */
const countedTo = (consecutiveFailures: number, active = true): CountedStreak => ({
  consecutiveFailures,
  active,
});

type Expected = Decision & { disable: DisableReason | null };

interface Case {
  name: string;
  input: OutcomeInput;
  /** Given for rows whose decision counts the failure (`streak: 'count'`). */
  counted?: CountedStreak;
  want: Expected;
}

const succeeded = (attemptNumber: number, streak: Decision['streak'] = 'reset'): Expected => ({
  status: 'succeeded',
  attemptNumber,
  nextAttemptAt: null,
  completedAt: NOW,
  streak,
  disable: null,
});
const retryIn = (attemptNumber: number, seconds: number): Expected => ({
  status: 'pending',
  attemptNumber,
  nextAttemptAt: NOW + seconds * 1000,
  completedAt: null,
  streak: 'count',
  disable: null,
});
const finished = (
  status: 'failed' | 'cancelled',
  attemptNumber: number,
  streak: Decision['streak'] = 'count',
): Expected => ({
  status,
  attemptNumber,
  nextAttemptAt: null,
  completedAt: NOW,
  streak,
  disable: null,
});

const CASES: Case[] = [
  // Successes
  {
    name: '2xx success resets the failure streak',
    input: facts({ attempt: ok() }),
    want: succeeded(1),
  },
  {
    name: 'any 2xx is a success',
    input: facts({ attempt: ok(204), attemptCount: 3 }),
    want: succeeded(4),
  },
  {
    name: 'a success on the last allowed attempt succeeds',
    input: facts({ attempt: ok(), attemptCount: 6 }),
    want: succeeded(7),
  },
  {
    name: 'a success to a webhook disabled meanwhile still succeeds and resets',
    input: facts({ attempt: ok(), active: false }),
    want: succeeded(1),
  },
  {
    name: 'a test delivery that succeeds leaves the streak alone',
    input: facts({ attempt: ok(), isTest: true, attemptsAllowed: 1 }),
    want: succeeded(1, 'keep'),
  },

  // Failures with retries left
  {
    name: 'the first failure waits the policy’s first delay',
    input: facts({ attempt: httpError(500) }),
    counted: countedTo(1),
    want: retryIn(1, 1),
  },
  {
    name: 'the third failure waits the policy’s third delay',
    input: facts({ attempt: httpError(503), attemptCount: 2 }),
    counted: countedTo(3),
    want: retryIn(3, 30),
  },
  {
    name: 'a 4xx is a failure like any other',
    input: facts({ attempt: httpError(404), attemptCount: 1 }),
    counted: countedTo(2),
    want: retryIn(2, 5),
  },
  {
    name: 'no response (a timeout) is a failure like any other',
    input: facts({ attempt: noResponse('timeout'), attemptCount: 3 }),
    counted: countedTo(4),
    want: retryIn(4, 300),
  },
  {
    name: 'the last retry waits the policy’s last delay',
    input: facts({ attempt: httpError(500), attemptCount: 5 }),
    counted: countedTo(6),
    want: retryIn(6, 7200),
  },
  {
    name: 'a policy shortened since the delivery was made repeats its last delay',
    input: facts({ attempt: httpError(500), attemptCount: 4, retryPolicy: [10, 20] }),
    counted: countedTo(5),
    want: retryIn(5, 20),
  },

  // The receiver asks to wait: Retry-After on 429 and 503
  {
    name: '429 with Retry-After seconds longer than the policy’s delay waits Retry-After',
    input: facts({ attempt: retryAfter(429, '120') }),
    counted: countedTo(1),
    want: retryIn(1, 120),
  },
  {
    name: '429 with Retry-After seconds shorter than the policy’s delay waits the policy',
    input: facts({ attempt: retryAfter(429, '10'), attemptCount: 2 }),
    counted: countedTo(3),
    want: retryIn(3, 30),
  },
  {
    name: '503 with Retry-After as an HTTP date waits until that date',
    input: facts({ attempt: retryAfter(503, httpDate(600)) }),
    counted: countedTo(1),
    want: retryIn(1, 600),
  },
  {
    name: '503 with Retry-After in the obsolete RFC 850 date form is read too',
    input: facts({ attempt: retryAfter(503, 'Tuesday, 14-Nov-23 22:23:20 GMT') }),
    counted: countedTo(1),
    want: retryIn(1, 600),
  },
  {
    name: '503 with Retry-After in the asctime date form is read too',
    input: facts({ attempt: retryAfter(503, 'Tue Nov 14 22:23:20 2023') }),
    counted: countedTo(1),
    want: retryIn(1, 600),
  },
  {
    name: 'Retry-After seconds past 24 hours wait 24 hours',
    input: facts({ attempt: retryAfter(429, String(30 * DAY_S)) }),
    counted: countedTo(1),
    want: retryIn(1, DAY_S),
  },
  {
    name: 'a Retry-After date past 24 hours waits 24 hours',
    input: facts({ attempt: retryAfter(503, httpDate(3 * DAY_S)) }),
    counted: countedTo(1),
    want: retryIn(1, DAY_S),
  },
  {
    name: 'the cap holds back Retry-After, never a policy delay longer than a day',
    input: facts({ attempt: retryAfter(429, String(5 * DAY_S)), retryPolicy: [7 * DAY_S] }),
    counted: countedTo(1),
    want: retryIn(1, 7 * DAY_S),
  },
  {
    name: 'an unparsable Retry-After is ignored: the policy’s delay',
    input: facts({ attempt: retryAfter(429, 'in a minute') }),
    counted: countedTo(1),
    want: retryIn(1, 1),
  },
  {
    name: 'a Retry-After that is neither whole seconds nor a strict HTTP date is ignored',
    input: facts({ attempt: retryAfter(429, '1.5e3') }),
    counted: countedTo(1),
    want: retryIn(1, 1),
  },
  {
    name: 'an impossible Retry-After date (31 February) is ignored',
    input: facts({ attempt: retryAfter(503, 'Mon, 31 Feb 2031 10:00:00 GMT') }),
    counted: countedTo(1),
    want: retryIn(1, 1),
  },
  {
    name: 'a Retry-After date in the past is ignored: the policy’s delay',
    input: facts({ attempt: retryAfter(503, httpDate(-3600)), attemptCount: 1 }),
    counted: countedTo(2),
    want: retryIn(2, 5),
  },
  {
    name: 'Retry-After on a 500 is ignored',
    input: facts({ attempt: retryAfter(500, '120') }),
    counted: countedTo(1),
    want: retryIn(1, 1),
  },
  {
    name: 'Retry-After on a redirect is ignored',
    input: facts({ attempt: retryAfter(301, '120') }),
    counted: countedTo(1),
    want: retryIn(1, 1),
  },
  {
    name: 'Retry-After adds no attempt: with none left the delivery fails',
    input: facts({ attempt: retryAfter(429, '120'), attemptCount: 6 }),
    counted: countedTo(7),
    want: finished('failed', 7),
  },
  {
    name: 'Retry-After with an empty policy still fails at once',
    input: facts({ attempt: retryAfter(503, '60'), attemptsAllowed: 1, retryPolicy: [] }),
    counted: countedTo(1),
    want: finished('failed', 1),
  },
  {
    name: 'a 429 with Retry-After is still a counted failure: the 10th disables',
    input: facts({ attempt: retryAfter(429, '120'), attemptCount: 2 }),
    counted: countedTo(10),
    want: { ...retryIn(3, 120), disable: 'consecutive_failures' },
  },

  // 410 Gone
  {
    name: '410 fails the delivery at once and disables the webhook as gone',
    input: facts({ attempt: httpError(410) }),
    counted: countedTo(1),
    want: { ...finished('failed', 1), disable: 'gone' },
  },
  {
    name: '410 at the 10th consecutive failure disables as gone, the more precise reason',
    input: facts({ attempt: httpError(410), attemptCount: 3 }),
    counted: countedTo(10),
    want: { ...finished('failed', 4), disable: 'gone' },
  },
  {
    name: '410 with a Retry-After is gone all the same',
    input: facts({ attempt: retryAfter(410, '120') }),
    counted: countedTo(1),
    want: { ...finished('failed', 1), disable: 'gone' },
  },
  {
    name: '410 to a webhook already disabled when counted: failed, not disabled again',
    input: facts({ attempt: httpError(410), active: false }),
    counted: countedTo(3, false),
    want: finished('failed', 1),
  },
  {
    name: '410 to a test delivery: failed, never counted, never disables',
    input: facts({ attempt: httpError(410), isTest: true, attemptsAllowed: 1 }),
    want: finished('failed', 1, 'keep'),
  },

  // Failures with nothing left
  {
    name: 'the last retry used up: failed',
    input: facts({ attempt: httpError(500), attemptCount: 6 }),
    counted: countedTo(7),
    want: finished('failed', 7),
  },
  {
    name: 'an empty retry policy fails on the first failure',
    input: facts({ attempt: httpError(500), attemptsAllowed: 1, retryPolicy: [] }),
    counted: countedTo(1),
    want: finished('failed', 1),
  },
  {
    name: 'a policy emptied since the delivery was made fails although attempts remain',
    input: facts({ attempt: httpError(500), attemptCount: 1, retryPolicy: [] }),
    counted: countedTo(2),
    want: finished('failed', 2),
  },

  // Disabling
  {
    name: 'the 9th consecutive failure does not disable',
    input: facts({ attempt: httpError(500), attemptCount: 2 }),
    counted: countedTo(9),
    want: retryIn(3, 30),
  },
  {
    name: 'the 10th consecutive failure disables the webhook and says why',
    input: facts({ attempt: httpError(500), attemptCount: 2 }),
    counted: countedTo(10),
    want: { ...retryIn(3, 30), disable: 'consecutive_failures' },
  },
  {
    name: 'a count past the threshold (other workers counted too) still disables',
    input: facts({ attempt: noResponse('connection_refused'), attemptCount: 6 }),
    counted: countedTo(12),
    want: { ...finished('failed', 7), disable: 'consecutive_failures' },
  },
  {
    name: 'the 10th failure does not disable a webhook already disabled when counted',
    input: facts({ attempt: httpError(500) }),
    counted: countedTo(10, false),
    want: retryIn(1, 1),
  },

  // An inactive webhook
  {
    name: 'a failure to an inactive webhook cancels the delivery, counted, no retry',
    input: facts({ attempt: httpError(500), active: false }),
    counted: countedTo(11, false),
    want: finished('cancelled', 1),
  },

  // Test deliveries
  {
    name: 'a test delivery that fails is failed and never counts',
    input: facts({ attempt: httpError(500), isTest: true, attemptsAllowed: 1 }),
    want: finished('failed', 1, 'keep'),
  },
  {
    name: 'a test of an inactive webhook reports failed, not cancelled',
    input: facts({
      attempt: noResponse('timeout'),
      isTest: true,
      active: false,
      attemptsAllowed: 1,
    }),
    want: finished('failed', 1, 'keep'),
  },
];

/** Both steps, as the queue runs them: decide, count if told to, decide disabling. */
function decide(c: Case): Expected {
  const decision = decideOutcome(c.input);
  if (decision.streak === 'count' && !c.counted) throw new Error(`${c.name}: give \`counted\``);
  const counted = decision.streak === 'count' ? c.counted! : null;
  return { ...decision, disable: decideDisable({ outcome: c.input, counted }) };
}

describe('delivery policy', () => {
  for (const c of CASES) {
    it(c.name, () => {
      expect(decide(c)).toEqual(c.want);
    });
  }

  it('decides, for every attempt that succeeds outright, what the batch writes in bulk', () => {
    // The batched path writes these without reading the delivery's or webhook's
    // row: `succeeded`, attempt count + 1, streak reset unless a test, no disabling.
    const outright = CASES.filter((c) => succeedsOutright(c.input.attempt));
    expect(outright.length).toBeGreaterThan(0);
    for (const c of outright) {
      expect(decide(c), c.name).toEqual(
        succeeded(c.input.delivery.attemptCount + 1, c.input.delivery.isTest ? 'keep' : 'reset'),
      );
    }
    for (const c of CASES.filter((x) => !succeedsOutright(x.input.attempt))) {
      expect(decide(c).status, c.name).not.toBe('succeeded');
    }
  });
});
