/**
 * Webhooks, always read and written within a scope: an organization's ticket
 * webhooks (`surveyId: null`) or one of its surveys' webhooks. A webhook
 * outside the scope does not exist (404). The secret and the custom header
 * values never leave this module except to the delivery engine, which reads
 * the row itself (a rotated secret is shown once, by rotation.ts).
 */
import type { Clock } from '../clock.js';
import { iso } from '../clock.js';
import type { Executor, WebhookOrdering, WebhooksTable } from '../db/schema.js';
import { cancelPendingDeliveries } from '../delivery/queue/commands.js';
import { wakeWorkers } from '../delivery/wake.js';
import { AppError, notFound } from '../errors.js';
import { keysetPage, type PageRequest } from '../http/pagination.js';
import { newId } from '../ids.js';
import { maskHeaders, unmaskHeaders } from './headers.js';
import { signingSecrets } from './secrets.js';
import type { WebhookFields, WebhookPatch } from './webhooks.input.js';

export { DEFAULT_RETRY_POLICY } from './webhooks.input.js';

const MAX_WEBHOOKS_PER_SURVEY = 10;

export interface WebhookScope {
  organizationId: string;
  /** Null for ticket webhooks. */
  surveyId: string | null;
}

export interface WebhookDto {
  id: string;
  organizationId: string;
  surveyId: string | null;
  name: string;
  url: string;
  events: string[];
  hasSecret: boolean;
  previousSecretExpiresAt: string | null;
  headers: Record<string, string>;
  active: boolean;
  retryPolicy: number[];
  rateLimitPerSecond: number | null;
  filter: Record<string, unknown> | null;
  ordering: WebhookOrdering;
  consecutiveFailures: number;
  disabledAt: string | null;
  disabledReason: string | null;
  lastDeliveryAt: string | null;
  createdAt: string;
  updatedAt: string;
}

function parseHeaders(row: WebhooksTable): Record<string, string> {
  return JSON.parse(row.headers) as Record<string, string>;
}

/**
 * Header values are write-only (masked), like the secret, which only shows as
 * `hasSecret`. The previous secret's expiry shows only while it still signs
 * at `now`, by the rule the delivery engine signs with.
 */
export function toWebhookDto(row: WebhooksTable, now: number): WebhookDto {
  const previousSigns = signingSecrets(row, now).length > 1;
  return {
    id: row.id,
    organizationId: row.organization_id,
    surveyId: row.survey_id,
    name: row.name,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    hasSecret: row.secret !== null,
    previousSecretExpiresAt: previousSigns ? iso(row.previous_secret_expires_at) : null,
    headers: maskHeaders(parseHeaders(row)),
    active: row.active === 1,
    retryPolicy: JSON.parse(row.retry_policy) as number[],
    rateLimitPerSecond: row.rate_limit_per_second,
    filter: row.filter === null ? null : (JSON.parse(row.filter) as Record<string, unknown>),
    ordering: row.ordering,
    consecutiveFailures: row.consecutive_failures,
    disabledAt: iso(row.disabled_at),
    disabledReason: row.disabled_reason,
    lastDeliveryAt: iso(row.last_delivery_at),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** The scope of a survey's webhooks; 404 when the survey is not the organization's. */
export async function getSurveyScope(
  db: Executor,
  organizationId: string,
  surveyId: string,
): Promise<WebhookScope> {
  const survey = await db
    .selectFrom('surveys')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('id', '=', surveyId)
    .executeTakeFirst();
  if (!survey) throw notFound('Survey');
  return { organizationId, surveyId: survey.id };
}

async function findWebhookInScope(
  db: Executor,
  scope: WebhookScope,
  id: string,
  lock: boolean,
): Promise<WebhooksTable | undefined> {
  // Locked FOR NO KEY UPDATE, as the delivery engine locks it: inserts of deliveries go on.
  return db
    .selectFrom('webhooks')
    .selectAll()
    .where('organization_id', '=', scope.organizationId)
    .where((eb) =>
      scope.surveyId === null ? eb('survey_id', 'is', null) : eb('survey_id', '=', scope.surveyId),
    )
    .where('id', '=', id)
    .$if(lock, (q) => q.forNoKeyUpdate())
    .executeTakeFirst();
}

/**
 * 404 when the webhook does not exist in the scope (another organization's,
 * survey's, or kind). `lock` holds its row until commit (only where writers
 * are concurrent: pass the dialect's `concurrentWriters`).
 */
export async function getWebhookInScope(
  db: Executor,
  scope: WebhookScope,
  id: string,
  opts: { lock?: boolean } = {},
): Promise<WebhooksTable> {
  const row = await findWebhookInScope(db, scope, id, opts.lock ?? false);
  if (!row) throw notFound('Webhook');
  return row;
}

export async function listWebhooks(
  db: Executor,
  scope: WebhookScope,
  page: PageRequest,
  active: boolean | undefined,
): Promise<WebhooksTable[]> {
  return db
    .selectFrom('webhooks')
    .selectAll()
    .where('organization_id', '=', scope.organizationId)
    .where((eb) =>
      scope.surveyId === null ? eb('survey_id', 'is', null) : eb('survey_id', '=', scope.surveyId),
    )
    .$if(active !== undefined, (q) => q.where('active', '=', active ? 1 : 0))
    .$call(keysetPage(page))
    .execute();
}

/**
 * Keeps a survey's webhook count within the limit. `lockRows` (where writers
 * are concurrent) holds the survey row until commit, so two creates count
 * one after the other; SQLite has a single writer anyway.
 */
async function assertRoomInSurvey(
  trx: Executor,
  surveyId: string,
  lockRows: boolean,
): Promise<void> {
  if (lockRows) {
    await trx.selectFrom('surveys').select('id').where('id', '=', surveyId).forUpdate().execute();
  }
  const { count } = await trx
    .selectFrom('webhooks')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('survey_id', '=', surveyId)
    .executeTakeFirstOrThrow();
  if (Number(count) >= MAX_WEBHOOKS_PER_SURVEY) {
    throw new AppError(
      'conflict',
      `A survey may have at most ${MAX_WEBHOOKS_PER_SURVEY} webhooks.`,
    );
  }
}

/**
 * Keeps an organization's webhook count (ticket and survey webhooks) within
 * HOOKDESK_MAX_WEBHOOKS_PER_ORG: every webhook is more work for the delivery
 * engine, and an unbounded number would let one tenant crowd out the others.
 * `lockRows` holds the organization row until commit, as for surveys.
 */
async function assertRoomInOrganization(
  trx: Executor,
  organizationId: string,
  max: number,
  lockRows: boolean,
): Promise<void> {
  if (lockRows) {
    await trx
      .selectFrom('organizations')
      .select('id')
      .where('id', '=', organizationId)
      .forUpdate()
      .execute();
  }
  const { count } = await trx
    .selectFrom('webhooks')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('organization_id', '=', organizationId)
    .executeTakeFirstOrThrow();
  if (Number(count) >= max) {
    throw new AppError(
      'conflict',
      `An organization may have at most ${max} webhooks (HOOKDESK_MAX_WEBHOOKS_PER_ORG); delete one first.`,
    );
  }
}

export async function createWebhook(
  trx: Executor,
  clock: Clock,
  scope: WebhookScope,
  input: WebhookFields,
  opts: { lockRows: boolean; maxPerOrganization: number },
): Promise<WebhooksTable> {
  await assertRoomInOrganization(trx, scope.organizationId, opts.maxPerOrganization, opts.lockRows);
  if (scope.surveyId !== null) await assertRoomInSurvey(trx, scope.surveyId, opts.lockRows);
  const now = clock.now();
  const row: WebhooksTable = {
    id: newId(),
    organization_id: scope.organizationId,
    survey_id: scope.surveyId,
    name: input.name,
    url: input.url,
    events: JSON.stringify(input.events),
    secret: input.secret,
    headers: JSON.stringify(unmaskHeaders(input.headers, {})),
    active: input.active ? 1 : 0,
    retry_policy: JSON.stringify(input.retryPolicy),
    consecutive_failures: 0,
    disabled_at: null,
    disabled_reason: null,
    last_delivery_at: null,
    previous_secret: null,
    previous_secret_expires_at: null,
    rate_limit_per_second: input.rateLimitPerSecond,
    rate_next_at: null,
    filter: storedFilterText(input.filter),
    ordering: input.ordering,
    created_at: now,
    updated_at: now,
  };
  await trx.insertInto('webhooks').values(row).execute();
  return row;
}

type Settings = Omit<
  WebhooksTable,
  'id' | 'organization_id' | 'survey_id' | 'last_delivery_at' | 'created_at' | 'updated_at'
>;

/**
 * The settings after a patch. Activating an inactive webhook re-enables it
 * from scratch. A secret in a PATCH (a value or null) applies at once: any
 * previous secret still in its overlap stops signing (rotation.ts keeps one).
 * A new rate limit starts a fresh schedule. A new filter or ordering applies
 * to the events raised from then on: fan-out decides both when an event
 * happens, and deliveries already made keep what they got.
 */
function patched(current: WebhooksTable, patch: WebhookPatch): Settings {
  const next: Settings = {
    name: patch.name ?? current.name,
    url: patch.url ?? current.url,
    events: patch.events ? JSON.stringify(patch.events) : current.events,
    secret: patch.secret === undefined ? current.secret : patch.secret,
    headers: patch.headers
      ? JSON.stringify(unmaskHeaders(patch.headers, parseHeaders(current)))
      : current.headers,
    active: current.active,
    retry_policy: patch.retryPolicy ? JSON.stringify(patch.retryPolicy) : current.retry_policy,
    consecutive_failures: current.consecutive_failures,
    disabled_at: current.disabled_at,
    disabled_reason: current.disabled_reason,
    previous_secret: patch.secret === undefined ? current.previous_secret : null,
    previous_secret_expires_at:
      patch.secret === undefined ? current.previous_secret_expires_at : null,
    rate_limit_per_second: current.rate_limit_per_second,
    rate_next_at: current.rate_next_at,
    filter: patch.filter === undefined ? current.filter : storedFilterText(patch.filter),
    ordering: patch.ordering ?? current.ordering,
  };
  if (rateLimitChanges(current, patch)) {
    next.rate_limit_per_second = patch.rateLimitPerSecond!;
    next.rate_next_at = null;
  }
  if (patch.active === false) next.active = 0;
  if (patch.active === true && current.active === 0) {
    Object.assign(next, {
      active: 1,
      consecutive_failures: 0,
      disabled_at: null,
      disabled_reason: null,
    });
  }
  return next;
}

function storedFilterText(filter: Record<string, unknown> | null): string | null {
  return filter === null ? null : JSON.stringify(filter);
}

function rateLimitChanges(current: WebhooksTable, patch: WebhookPatch): boolean {
  return (
    patch.rateLimitPerSecond !== undefined &&
    patch.rateLimitPerSecond !== current.rate_limit_per_second
  );
}

/**
 * Deliveries waiting for a start the old rate limit gave them (`rate_slot`)
 * become due now and uncharged, so a changed limit applies at once: the
 * worker charges them afresh under the new one.
 */
async function releaseRateSlots(trx: Executor, webhookId: string, now: number): Promise<void> {
  const result = await trx
    .updateTable('deliveries')
    .set({ next_attempt_at: now, rate_slot: 0, updated_at: now })
    .where('webhook_id', '=', webhookId)
    .where('status', '=', 'pending')
    .where('rate_slot', '=', 1)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) > 0) await wakeWorkers(trx);
}

/**
 * Deactivating cancels the webhook's pending deliveries, and a new rate
 * limit releases the starts the old one reserved, in the same transaction.
 */
export async function updateWebhook(
  trx: Executor,
  clock: Clock,
  scope: WebhookScope,
  id: string,
  patch: WebhookPatch,
): Promise<WebhooksTable> {
  const current = await getWebhookInScope(trx, scope, id);
  const now = clock.now();
  if (patch.active === false) await cancelPendingDeliveries(trx, id, now);
  const next = patched(current, patch);
  // Only changed columns are written: the delivery engine updates failure counts concurrently.
  const changes: Partial<Settings> = {};
  for (const key of Object.keys(next) as (keyof Settings)[]) {
    if (next[key] !== current[key]) Object.assign(changes, { [key]: next[key] });
  }
  if (Object.keys(changes).length === 0) return current;
  await trx
    .updateTable('webhooks')
    .set({ ...changes, updated_at: now })
    .where('id', '=', id)
    .execute();
  // After the row's update: a worker charging the old limit holds that row's lock
  // (delivery/queue/rate.ts), so the starts it reserved are committed, and released, by now.
  if (rateLimitChanges(current, patch) && patch.active !== false) {
    await releaseRateSlots(trx, id, now);
  }
  return { ...current, ...changes, updated_at: now };
}

/** Its deliveries and their attempts go with it (foreign-key cascade). */
export async function deleteWebhook(trx: Executor, scope: WebhookScope, id: string): Promise<void> {
  const webhook = await getWebhookInScope(trx, scope, id);
  await trx.deleteFrom('webhooks').where('id', '=', webhook.id).execute();
}
