/**
 * The batch's common case written in bulk: attempts that `succeedsOutright`
 * (see delivery/policy.ts) of webhooks with no failure in the batch. Their
 * decision needs no row read first (`succeeded`, the failure streak reset
 * unless a test), so it is written straight into the statements: three on
 * SQLite, one on PostgreSQL. Also the attempts row both paths insert.
 */
import { sql } from 'kysely';
import type { DeliveryAttemptsTable, Executor } from '../../db/schema.js';
import { newId } from '../../ids.js';
import type { AttemptResult } from '../sender.js';
import type { ClaimedDelivery } from './claim.js';

export interface AttemptToRecord {
  delivery: ClaimedDelivery;
  attempt: AttemptResult;
}

/** The `delivery_attempts` row of an attempt. */
export function attemptRow(
  deliveryId: string,
  number: number,
  attempt: AttemptResult,
): DeliveryAttemptsTable {
  return {
    id: newId(),
    delivery_id: deliveryId,
    number,
    started_at: attempt.startedAt,
    duration_ms: attempt.durationMs,
    status_code: attempt.statusCode,
    response_headers: attempt.responseHeaders ? JSON.stringify(attempt.responseHeaders) : null,
    response_body: attempt.responseBody,
    response_body_truncated: attempt.responseBodyTruncated ? 1 : 0,
    error_code: attempt.error?.code ?? null,
    error_message: attempt.error?.message ?? null,
  };
}

/** The fast path in three statements; returns the attempt number of each delivery recorded. */
export async function recordSuccesses(
  trx: Executor,
  now: number,
  owner: string,
  items: readonly AttemptToRecord[],
  fast: readonly number[],
): Promise<Map<string, number>> {
  const updated = await trx
    .updateTable('deliveries')
    .set((eb) => ({
      status: 'succeeded',
      attempt_count: eb('attempt_count', '+', 1),
      next_attempt_at: null,
      lease_owner: null,
      lease_until: null,
      completed_at: now,
      updated_at: now,
    }))
    .where(
      'id',
      'in',
      fast.map((i) => items[i]!.delivery.id),
    )
    .where('status', '=', 'delivering')
    .where('lease_owner', '=', owner)
    .returning(['id', 'attempt_count'])
    .execute();
  const numbers = new Map(updated.map((r) => [r.id, r.attempt_count]));
  const rows: DeliveryAttemptsTable[] = [];
  const hooks = new Set<string>();
  for (const i of fast) {
    const { delivery, attempt } = items[i]!;
    const number = numbers.get(delivery.id);
    if (number === undefined) continue;
    rows.push(attemptRow(delivery.id, number, attempt));
    // Test deliveries never count toward the failure streak (docs/webhooks.md, "Retries").
    if (delivery.is_test !== 1) hooks.add(delivery.webhook_id);
  }
  if (rows.length > 0) await trx.insertInto('delivery_attempts').values(rows).execute();
  if (hooks.size > 0) {
    await trx
      .updateTable('webhooks')
      .set({ consecutive_failures: 0, last_delivery_at: now })
      .where('id', 'in', [...hooks])
      .execute();
  }
  return numbers;
}

/**
 * The fast path as one PostgreSQL statement: the deliveries' UPDATE …
 * RETURNING feeds the attempts' INSERT and the webhooks' UPDATE (which locks
 * its rows in id order). Values travel as one array per column.
 */
export async function recordSuccessesInOneStatement(
  db: Executor,
  now: number,
  owner: string,
  items: readonly AttemptToRecord[],
  fast: readonly number[],
): Promise<Map<string, number>> {
  const rows = fast.map((i) => attemptRow(items[i]!.delivery.id, 0, items[i]!.attempt));
  const col = <K extends keyof DeliveryAttemptsTable>(k: K) => rows.map((r) => r[k]);
  const result = await sql<{ id: string; attempt_count: number }>`
    with updated as (
      update deliveries
      set status = 'succeeded', attempt_count = attempt_count + 1, next_attempt_at = null,
        lease_owner = null, lease_until = null, completed_at = ${now}, updated_at = ${now}
      where id = any(${col('delivery_id')}::text[])
        and status = 'delivering' and lease_owner = ${owner}
      returning id, attempt_count, webhook_id, is_test
    ),
    attempts as (
      insert into delivery_attempts (id, delivery_id, number, started_at, duration_ms, status_code,
        response_headers, response_body, response_body_truncated, error_code, error_message)
      select a.id, a.delivery_id, u.attempt_count, a.started_at, a.duration_ms, a.status_code,
        a.response_headers, a.response_body, a.response_body_truncated, a.error_code, a.error_message
      from unnest(
        ${col('id')}::text[], ${col('delivery_id')}::text[], ${col('started_at')}::bigint[],
        ${col('duration_ms')}::integer[], ${col('status_code')}::integer[],
        ${col('response_headers')}::text[], ${col('response_body')}::text[],
        ${col('response_body_truncated')}::integer[], ${col('error_code')}::text[],
        ${col('error_message')}::text[]
      ) as a(id, delivery_id, started_at, duration_ms, status_code, response_headers,
        response_body, response_body_truncated, error_code, error_message)
      join updated u on u.id = a.delivery_id
    ),
    streaks as (
      update webhooks set consecutive_failures = 0, last_delivery_at = ${now}
      where id in (
        select id from webhooks
        where id in (select webhook_id from updated where is_test <> 1)
        order by id
        for no key update
      )
    )
    select id, attempt_count from updated
  `.execute(db);
  return new Map(result.rows.map((r) => [r.id, Number(r.attempt_count)]));
}
