/**
 * Delivery attempts of one webhook counted per clock hour (UTC) and outcome,
 * for the admin console's success rate and chart. Test deliveries are left
 * out, as they are from `consecutiveFailures`: a test probes the endpoint, it
 * is not traffic.
 */
import { sql } from 'kysely';
import type { Executor } from '../../db/schema.js';

export const HOUR_MS = 3_600_000;

/** `succeeded`: a 2xx; `http_error`: any other status; `no_response`: timeout, DNS, TLS, blocked… */
export const ATTEMPT_OUTCOMES = ['succeeded', 'http_error', 'no_response'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

export interface HourCounts {
  /** Start of the hour, epoch ms. */
  hour: number;
  succeeded: number;
  http_error: number;
  no_response: number;
}

/**
 * One entry per hour of `hours` clock hours ending with the one holding `now`
 * (oldest first, zeros included), counting attempts started in it.
 */
export async function attemptsPerHour(
  db: Executor,
  webhookId: string,
  now: number,
  hours: number,
): Promise<HourCounts[]> {
  const first = Math.floor(now / HOUR_MS) * HOUR_MS - (hours - 1) * HOUR_MS;
  // No bound parameters inside the grouped expressions: PostgreSQL would see
  // `$1` in the select list and `$2` in GROUP BY as different expressions.
  const hour = sql<number>`(a.started_at / ${sql.lit(HOUR_MS)})`;
  const outcome = sql<AttemptOutcome>`case
    when a.status_code >= 200 and a.status_code < 300 then 'succeeded'
    when a.status_code is not null then 'http_error'
    else 'no_response' end`;
  const rows = await db
    .selectFrom('delivery_attempts as a')
    .innerJoin('deliveries as d', 'd.id', 'a.delivery_id')
    .where('d.webhook_id', '=', webhookId)
    .where('d.is_test', '=', 0)
    .where('a.started_at', '>=', first)
    .where('a.started_at', '<', first + hours * HOUR_MS)
    .select([hour.as('hour'), outcome.as('outcome'), (eb) => eb.fn.countAll().as('count')])
    .groupBy([hour, outcome])
    .execute();
  const buckets: HourCounts[] = Array.from({ length: hours }, (_, i) => ({
    hour: first + i * HOUR_MS,
    succeeded: 0,
    http_error: 0,
    no_response: 0,
  }));
  for (const row of rows) {
    const bucket = buckets[Number(row.hour) - first / HOUR_MS];
    if (bucket) bucket[row.outcome] += Number(row.count);
  }
  return buckets;
}
