/**
 * Delivery status of outbound messages. Providers call back late, twice and
 * out of order, so a status only ever moves forward:
 *
 *   queued < sent < delivered < opened
 *
 * `bounced` and `failed` are terminal, reached from any status before
 * `opened`; an `opened` that arrives after them is kept anyway, because an
 * open proves the mail arrived. Each change is one conditional UPDATE naming
 * the statuses it may replace, so concurrent callbacks cannot move a status
 * backwards on either dialect.
 */
import type { Clock } from '../../clock.js';
import type { ExpressionBuilder } from 'kysely';
import type { Database, Executor } from '../../db/schema.js';
import { bareMessageId } from './message-ids.js';

export const DELIVERY_STATUSES = [
  'queued',
  'sent',
  'delivered',
  'opened',
  'bounced',
  'failed',
] as const;
export type MessageDeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** The statuses that `next` may replace (a message without a status takes any). */
const REPLACES: Record<MessageDeliveryStatus, readonly MessageDeliveryStatus[]> = {
  queued: [],
  sent: ['queued'],
  delivered: ['queued', 'sent'],
  opened: ['queued', 'sent', 'delivered', 'bounced', 'failed'],
  bounced: ['queued', 'sent', 'delivered'],
  failed: ['queued', 'sent', 'delivered'],
};

/** Whether a message in status `current` moves to `next`. */
export function canMoveTo(current: string | null, next: MessageDeliveryStatus): boolean {
  return current === null || (REPLACES[next] as readonly string[]).includes(current);
}

export interface DeliveryStatusUpdate {
  /** The provider's id of the message; SMTP Message-IDs with or without angle brackets. */
  providerMessageId: string;
  status: MessageDeliveryStatus;
  errorCode?: string;
  errorMessage?: string;
  /** When the provider saw it (epoch ms); logged by callers, not used for ordering. */
  at: number;
  /** Restricts the match to one organization (provider adapters know it). */
  organizationId?: string;
}

const MAX_ERROR_LENGTH = 2000;

function errorText(update: Pick<DeliveryStatusUpdate, 'status' | 'errorCode' | 'errorMessage'>) {
  const parts = [update.errorCode, update.errorMessage].filter(
    (p): p is string => typeof p === 'string' && p.trim() !== '',
  );
  return (parts.length > 0 ? parts.join(': ') : update.status).slice(0, MAX_ERROR_LENGTH);
}

/**
 * Applies a provider's status to the outbound message(s) with that provider
 * id. Returns true when a status changed; an unknown id or a status that
 * would move backwards changes nothing and returns false. `delivery_error`
 * is set on `bounced` and `failed` and otherwise left as it was.
 */
export async function applyDeliveryStatus(
  trx: Executor,
  clock: Clock,
  update: DeliveryStatusUpdate,
): Promise<boolean> {
  const providerMessageId = bareMessageId(update.providerMessageId);
  if (providerMessageId === null) return false;
  const terminal = update.status === 'bounced' || update.status === 'failed';
  const result = await trx
    .updateTable('messages')
    .set({
      delivery_status: update.status,
      ...(terminal ? { delivery_error: errorText(update) } : {}),
      updated_at: clock.now(),
    })
    .where('provider_message_id', '=', providerMessageId)
    .where('direction', '=', 'outbound')
    .$if(update.organizationId !== undefined, (q) =>
      q.where('organization_id', '=', update.organizationId!),
    )
    .where((eb) => movableFrom(eb, update.status))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Sets the status of one message by its id (the sender's own transitions). */
export async function setMessageDeliveryStatus(
  trx: Executor,
  clock: Clock,
  messageId: string,
  status: MessageDeliveryStatus,
  error?: string,
): Promise<boolean> {
  const terminal = status === 'bounced' || status === 'failed';
  const result = await trx
    .updateTable('messages')
    .set({
      delivery_status: status,
      ...(terminal ? { delivery_error: errorText({ status, errorMessage: error }) } : {}),
      updated_at: clock.now(),
    })
    .where('id', '=', messageId)
    .where((eb) => movableFrom(eb, status))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

function movableFrom(eb: ExpressionBuilder<Database, 'messages'>, next: MessageDeliveryStatus) {
  const from = REPLACES[next];
  const isNull = eb('delivery_status', 'is', null);
  return from.length === 0 ? isNull : eb.or([isNull, eb('delivery_status', 'in', [...from])]);
}

/** The organizations with an outbound message of this provider id (normally one, or none). */
export async function organizationsOfProviderMessage(
  db: Executor,
  providerMessageId: string,
): Promise<string[]> {
  const id = bareMessageId(providerMessageId);
  if (id === null) return [];
  const rows = await db
    .selectFrom('messages')
    .select('organization_id')
    .distinct()
    .where('provider_message_id', '=', id)
    .where('direction', '=', 'outbound')
    .execute();
  return rows.map((r) => r.organization_id);
}
