/** Reading deliveries and attempts for the management API. */
import type {
  DeliveriesTable,
  DeliveryAttemptsTable,
  DeliveryStatus,
  Executor,
} from '../../db/schema.js';
import { sql } from 'kysely';
import { keysetPage, type PageRequest } from '../../http/pagination.js';
import { deliveryBody } from './body.js';

/** Every column of a delivery, with `payload` the body it is sent (./body.ts). */
const WITH_BODY = [
  'id',
  'organization_id',
  'webhook_id',
  'event_id',
  'event_type',
  'status',
  'attempt_count',
  'attempts_allowed',
  'next_attempt_at',
  'lease_owner',
  'lease_until',
  'is_test',
  'rate_slot',
  'order_key',
  'created_at',
  'updated_at',
  'completed_at',
] as const;

export interface DeliveryFilters {
  status?: DeliveryStatus;
  eventType?: string;
  /** Inclusive lower bound on created_at (epoch ms). */
  since?: number;
  /** Exclusive upper bound on created_at (epoch ms). */
  until?: number;
}

export async function listDeliveries(
  db: Executor,
  webhookId: string,
  filters: DeliveryFilters,
  page: PageRequest,
): Promise<DeliveriesTable[]> {
  return db
    .selectFrom('deliveries')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .$if(filters.status !== undefined, (q) => q.where('status', '=', filters.status!))
    .$if(filters.eventType !== undefined, (q) => q.where('event_type', '=', filters.eventType!))
    .$if(filters.since !== undefined, (q) => q.where('created_at', '>=', filters.since!))
    .$if(filters.until !== undefined, (q) => q.where('created_at', '<', filters.until!))
    .$call(keysetPage(page))
    .execute();
}

export async function findDelivery(
  db: Executor,
  webhookId: string,
  id: string,
): Promise<DeliveriesTable | undefined> {
  return db
    .selectFrom('deliveries')
    .select(WITH_BODY)
    .select(deliveryBody().as('payload'))
    .where('webhook_id', '=', webhookId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** What holds an ordered delivery back: the earliest unfinished delivery before it. */
export interface HeldBack {
  deliveryId: string;
  status: 'pending' | 'delivering';
}

/**
 * The delivery that keeps a pending ordered delivery from being claimed
 * (claim.ts): the earliest delivery of the same key and webhook still
 * pending or in flight before it, or one of them in flight. Null for unordered or unfinished-free deliveries.
 */
export async function heldBackBy(db: Executor, row: DeliveriesTable): Promise<HeldBack | null> {
  if (row.order_key === null || row.status !== 'pending') return null;
  const earlier = await db
    .selectFrom('deliveries')
    .select(['id', 'status'])
    .where('webhook_id', '=', row.webhook_id)
    .where('order_key', '=', row.order_key)
    // As the claim has it (./ordering.ts): an earlier one, or any other in flight.
    .where((eb) =>
      eb.or([
        eb('id', '<', row.id),
        eb.and([eb('status', '=', 'delivering'), eb('id', '<>', row.id)]),
      ]),
    )
    // The partial index's predicate, written as the index has it (migration 0010).
    .where(sql<boolean>`order_key is not null and status in ('pending', 'delivering')`)
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  if (!earlier) return null;
  return { deliveryId: earlier.id, status: earlier.status as HeldBack['status'] };
}

export async function attemptsOf(
  db: Executor,
  deliveryId: string,
): Promise<DeliveryAttemptsTable[]> {
  return db
    .selectFrom('delivery_attempts')
    .selectAll()
    .where('delivery_id', '=', deliveryId)
    .orderBy('number')
    .execute();
}

export async function deliveriesOfEvent(
  db: Executor,
  organizationId: string,
  eventId: string,
): Promise<DeliveriesTable[]> {
  return db
    .selectFrom('deliveries')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('event_id', '=', eventId)
    .orderBy('id')
    .execute();
}
