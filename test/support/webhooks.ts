/** Shortcuts for webhook and delivery tests, through the real API where it exists. */
import { expect } from 'vitest';
import type { DeliveryStatus } from '../../src/db/schema.js';
import { emitEvents } from '../../src/events/outbox.js';
import { newId } from '../../src/ids.js';
import type { Harness, Org } from './harness.js';

export async function createWebhook(
  h: Harness,
  org: Org,
  body: Record<string, unknown>,
): Promise<{ id: string } & Record<string, any>> {
  const res = await h.request({
    method: 'POST',
    url: '/api/webhooks',
    key: org.apiKey,
    payload: { name: 'hook', events: ['ticket.created'], ...body },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

export async function createTicket(
  h: Harness,
  org: Org,
  subject = 'Printer on fire',
): Promise<{ id: string } & Record<string, any>> {
  const res = await h.request({
    method: 'POST',
    url: '/api/tickets',
    key: org.apiKey,
    payload: { subject, requester: { email: 'pat@example.com' } },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

export async function deliveriesOf(h: Harness, webhookId: string) {
  return h.db
    .selectFrom('deliveries')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .orderBy('id')
    .execute();
}

export async function attemptsOf(h: Harness, deliveryId: string) {
  return h.db
    .selectFrom('delivery_attempts')
    .selectAll()
    .where('delivery_id', '=', deliveryId)
    .orderBy('number')
    .execute();
}

// Management-API helpers shared by the webhook CRUD suites.

/** A Standard Webhooks secret: `whsec_` and base64 of 24 bytes. */
export const SECRET = 'whsec_aG9va2Rlc2stdGVzdC1zZWNyZXQtMDEy';
export const TICKET_HOOK = {
  name: 'Orders',
  url: 'https://hooks.example.com/hookdesk',
  events: ['ticket.created'],
};
export const SURVEY_HOOK = { name: 'Survey results', url: 'https://hooks.example.com/surveys' };

export interface WebhookApi {
  readonly base: string;
  readonly survey: boolean;
  create(body: Record<string, unknown>, key?: string): Promise<Response>;
  list(query?: string, key?: string): Promise<Response>;
  get(id: string, key?: string): Promise<Response>;
  patch(id: string, body: Record<string, unknown>, key?: string): Promise<Response>;
  remove(id: string, key?: string): Promise<Response>;
}

type Response = Awaited<ReturnType<Harness['request']>>;

/** The five CRUD calls on one collection (ticket webhooks by default, or a survey's). */
export function webhookApi(h: Harness, org: Org, base = '/api/webhooks'): WebhookApi {
  const as = (key?: string) => key ?? org.apiKey;
  return {
    base,
    survey: base.startsWith('/api/surveys/'),
    create: (body, key) => h.request({ method: 'POST', url: base, key: as(key), payload: body }),
    list: (query = '', key) => h.request({ method: 'GET', url: `${base}${query}`, key: as(key) }),
    get: (id, key) => h.request({ method: 'GET', url: `${base}/${id}`, key: as(key) }),
    patch: (id, body, key) =>
      h.request({ method: 'PATCH', url: `${base}/${id}`, key: as(key), payload: body }),
    remove: (id, key) => h.request({ method: 'DELETE', url: `${base}/${id}`, key: as(key) }),
  };
}

/**
 * Creates a valid webhook of the collection's kind, with `extra` fields;
 * expects 201. The webhook as a GET shows it: without `secret`, the secret
 * Hookdesk generated (only the 201 shows it, test/webhooks-signed-default.test.ts).
 */
export async function createHook(
  api: WebhookApi,
  extra: Record<string, unknown> = {},
): Promise<Record<string, any>> {
  const res = await api.create({ ...(api.survey ? SURVEY_HOOK : TICKET_HOOK), ...extra });
  expect(res.statusCode, res.body).toBe(201);
  const { secret: _generated, ...hook } = res.json();
  return hook;
}

export async function countWebhooks(h: Harness, organizationId: string): Promise<number> {
  const rows = await h.db
    .selectFrom('webhooks')
    .select('id')
    .where('organization_id', '=', organizationId)
    .execute();
  return rows.length;
}

/** A one-question survey of the organization; returns its id. */
export async function createSurvey(h: Harness, org: Org): Promise<string> {
  const res = await h.request({
    method: 'POST',
    url: '/api/surveys',
    key: org.apiKey,
    payload: {
      name: 'CSAT',
      questions: [{ id: 'score', type: 'rating', title: 'How did we do?' }],
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

/** The fields named in a validation error, in order. */
export function problemFields(res: Response): string[] {
  return (res.json().error.details as { field: string }[]).map((d) => d.field);
}

/** An API key of a new agent (non-admin) user of the organization. */
export async function agentKey(h: Harness, org: Org): Promise<string> {
  const user = await h.request({
    method: 'POST',
    url: '/api/users',
    key: org.apiKey,
    payload: { email: `agent-${Math.random().toString(36).slice(2)}@example.com`, name: 'Agent' },
  });
  expect(user.statusCode, user.body).toBe(201);
  const key = await h.request({
    method: 'POST',
    url: '/api/api-keys',
    key: org.apiKey,
    payload: { name: 'agent', userId: user.json().id },
  });
  expect(key.statusCode, key.body).toBe(201);
  return key.json().key;
}

/** Inserts a delivery row directly (default pending, due now); returns its id. */
export async function insertDelivery(
  h: Harness,
  organizationId: string,
  webhookId: string,
  status: DeliveryStatus = 'pending',
): Promise<string> {
  const now = h.clock.now();
  const id = newId();
  const finished = status === 'succeeded' || status === 'failed' || status === 'cancelled';
  await h.db
    .insertInto('deliveries')
    .values({
      id,
      organization_id: organizationId,
      webhook_id: webhookId,
      event_id: newId(),
      event_type: 'ticket.created',
      payload: '{}',
      status,
      attempt_count: finished ? 1 : 0,
      attempts_allowed: 7,
      next_attempt_at: finished ? null : now,
      lease_owner: null,
      lease_until: null,
      is_test: 0,
      rate_slot: 0,
      created_at: now,
      updated_at: now,
      completed_at: finished ? now : null,
    })
    .execute();
  return id;
}

/** `count` ticket.created events for the organization in one transaction (fan-out included). */
export async function emitTicketEvents(
  h: Harness,
  organizationId: string,
  count: number,
  prefix = 't',
): Promise<void> {
  await h.db.transaction().execute((trx) =>
    emitEvents(
      trx,
      h.clock,
      Array.from({ length: count }, (_, i) => ({
        type: 'ticket.created' as const,
        organizationId,
        ticketId: `${prefix}${i}`,
        data: { i },
      })),
    ),
  );
}
