/**
 * Fan-out: one pending delivery per active webhook subscribed to an event,
 * written in the event's own transaction (SPEC §6.1). The delivery copies the
 * event's payload bytes, which every attempt then sends unchanged.
 */
import type { Clock } from '../../clock.js';
import type { Executor } from '../../db/schema.js';
import { newId } from '../../ids.js';
import { wakeWorkers } from '../wake.js';

export interface FanoutEvent {
  id: string;
  organizationId: string;
  /** Set for survey events: only that survey's webhooks receive them. */
  surveyId: string | null;
  type: string;
  payload: string;
}

/** Returns the number of deliveries created. */
export async function createDeliveries(
  trx: Executor,
  clock: Clock,
  events: readonly FanoutEvent[],
): Promise<number> {
  if (events.length === 0) return 0;
  const orgId = events[0]!.organizationId;
  const surveyIds = [
    ...new Set(events.map((e) => e.surveyId).filter((s): s is string => s !== null)),
  ];
  const hooks = await trx
    .selectFrom('webhooks')
    .select(['id', 'survey_id', 'events', 'retry_policy'])
    .where('organization_id', '=', orgId)
    .where('active', '=', 1)
    .where((eb) =>
      surveyIds.length > 0
        ? eb.or([eb('survey_id', 'is', null), eb('survey_id', 'in', surveyIds)])
        : eb('survey_id', 'is', null),
    )
    .execute();
  if (hooks.length === 0) return 0;
  const subscriptions = hooks.map((h) => ({
    id: h.id,
    surveyId: h.survey_id,
    events: new Set(JSON.parse(h.events) as string[]),
    attemptsAllowed: 1 + (JSON.parse(h.retry_policy) as number[]).length,
  }));
  const now = clock.now();
  const rows = [];
  for (const event of events) {
    for (const hook of subscriptions) {
      if (hook.surveyId !== event.surveyId || !hook.events.has(event.type)) continue;
      rows.push({
        id: newId(),
        organization_id: event.organizationId,
        webhook_id: hook.id,
        event_id: event.id,
        event_type: event.type,
        payload: event.payload,
        status: 'pending' as const,
        attempt_count: 0,
        attempts_allowed: hook.attemptsAllowed,
        next_attempt_at: now,
        lease_owner: null,
        lease_until: null,
        is_test: 0,
        created_at: now,
        updated_at: now,
        completed_at: null,
      });
    }
  }
  if (rows.length === 0) return 0;
  await trx.insertInto('deliveries').values(rows).execute();
  await wakeWorkers(trx);
  return rows.length;
}
