import { expect, it } from 'vitest';
import { iso } from '../src/clock.js';
import { newId } from '../src/ids.js';
import { MASKED_HEADER_VALUE as MASK } from '../src/webhooks/headers.js';
import { forEachDialect } from './support/harness.js';
import {
  SECRET,
  TICKET_HOOK,
  agentKey,
  countWebhooks,
  createHook,
  insertDelivery,
  webhookApi,
} from './support/webhooks.js';

const RESOURCE_KEYS = [
  ...['active', 'consecutiveFailures', 'createdAt', 'disabledAt', 'disabledReason', 'events'],
  ...['filter', 'hasSecret', 'headers', 'id', 'lastDeliveryAt', 'name', 'ordering'],
  ...['organizationId'],
  ...['previousSecretExpiresAt', 'rateLimitPerSecond', 'retryPolicy', 'surveyId', 'updatedAt'],
  ...['url'],
];

forEachDialect('ticket webhooks', (h) => {
  const deliveryStatuses = async (webhookId: string) =>
    (
      await h.db
        .selectFrom('deliveries')
        .select(['id', 'status'])
        .where('webhook_id', '=', webhookId)
        .orderBy('id')
        .execute()
    ).map((d) => d.status);

  it('creates a webhook with defaults and reads it back', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    const res = await api.create(TICKET_HOOK);
    expect(res.statusCode).toBe(201);
    // Signed by default: the generated secret is in this answer only.
    const { secret, ...hook } = res.json();
    expect(secret).toMatch(/^whsec_/);
    expect(Object.keys(hook).sort()).toEqual(RESOURCE_KEYS);
    expect(hook).toMatchObject({
      organizationId: org.organizationId,
      surveyId: null,
      ...TICKET_HOOK,
      hasSecret: true,
      headers: {},
      active: true,
      retryPolicy: [1, 5, 30, 300, 1800, 7200],
      filter: null,
      ordering: 'none',
      consecutiveFailures: 0,
      disabledAt: null,
      disabledReason: null,
      lastDeliveryAt: null,
      createdAt: iso(h.clock.now()),
      updatedAt: iso(h.clock.now()),
    });
    expect((await api.get(hook.id)).json()).toEqual(hook);
  });

  it('stores every given field', async () => {
    const org = await h.createOrg();
    const hook = await createHook(webhookApi(h, org), {
      secret: SECRET,
      headers: { 'X-Tenant': 'acme', Authorization: 'Bearer abc' },
      active: false,
      retryPolicy: [10, 60],
    });
    expect(hook).toMatchObject({
      hasSecret: true,
      // Values are write-only (test/webhooks-headers.test.ts).
      headers: { 'X-Tenant': MASK, Authorization: MASK },
      active: false,
      retryPolicy: [10, 60],
    });
    const row = await h.db
      .selectFrom('webhooks')
      .selectAll()
      .where('id', '=', hook.id)
      .executeTakeFirstOrThrow();
    expect(row.secret).toBe(SECRET);
    expect(JSON.parse(row.headers)).toEqual({ 'X-Tenant': 'acme', Authorization: 'Bearer abc' });
    expect(JSON.parse(row.events)).toEqual(TICKET_HOOK.events);
  });

  it('never returns the secret; hasSecret follows set, replace and null', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    const created = await api.create({ ...TICKET_HOOK, secret: SECRET });
    const hook = created.json();
    expect(hook.hasSecret).toBe(true);
    const other = 'another-secret-abcdefghij';
    const replaced = await api.patch(hook.id, { secret: other });
    expect(replaced.json().hasSecret).toBe(true);
    const responses = [created, replaced, await api.get(hook.id), await api.list()];
    for (const res of responses) {
      expect(res.body).not.toContain(SECRET);
      expect(res.body).not.toContain(other);
      expect(res.body).not.toContain('"secret"');
    }
    const cleared = await api.patch(hook.id, { secret: null });
    expect(cleared.statusCode).toBe(200);
    expect(cleared.json().hasSecret).toBe(false);
    const row = await h.db
      .selectFrom('webhooks')
      .select('secret')
      .where('id', '=', hook.id)
      .executeTakeFirstOrThrow();
    expect(row.secret).toBeNull();
    expect((await api.patch(hook.id, { secret: SECRET })).json().hasSecret).toBe(true);
  });

  it('PATCH changes only the given fields and bumps updatedAt', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    const hook = await createHook(api, { secret: SECRET, headers: { 'X-A': '1' } });
    h.clock.advance(60_000);
    const renamed = (await api.patch(hook.id, { name: 'Renamed' })).json();
    expect(renamed).toEqual({ ...hook, name: 'Renamed', updatedAt: iso(h.clock.now()) });
    const patch = {
      url: 'https://other.example.com/x',
      events: ['ticket.closed'],
      headers: { 'X-B': '2' },
      retryPolicy: [],
    };
    const changed = (await api.patch(hook.id, patch)).json();
    expect(changed).toEqual({ ...renamed, ...patch, headers: { 'X-B': MASK } });
    expect(changed.hasSecret).toBe(true);
    h.clock.advance(60_000);
    const same = (await api.patch(hook.id, {})).json();
    expect(same).toEqual(changed);
    expect((await api.patch(hook.id, { name: 'Renamed' })).json().updatedAt).toBe(
      changed.updatedAt,
    );
  });

  it('re-enables a disabled webhook, resetting its failures', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    const hook = await createHook(api);
    const disabledAt = h.clock.now();
    await h.db
      .updateTable('webhooks')
      .set({
        active: 0,
        consecutive_failures: 12,
        disabled_at: disabledAt,
        disabled_reason: 'Too many consecutive failures.',
      })
      .where('id', '=', hook.id)
      .execute();
    const before = (await api.get(hook.id)).json();
    expect(before).toMatchObject({
      active: false,
      consecutiveFailures: 12,
      disabledAt: iso(disabledAt),
      disabledReason: 'Too many consecutive failures.',
    });
    h.clock.advance(1000);
    const res = await api.patch(hook.id, { active: true });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      active: true,
      consecutiveFailures: 0,
      disabledAt: null,
      disabledReason: null,
      updatedAt: iso(h.clock.now()),
    });
    expect((await api.get(hook.id)).json()).toEqual(res.json());
  });

  it('setting active: true on an active webhook changes nothing', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    const hook = await createHook(api);
    await h.db
      .updateTable('webhooks')
      .set({ consecutive_failures: 3 })
      .where('id', '=', hook.id)
      .execute();
    h.clock.advance(1000);
    const res = (await api.patch(hook.id, { active: true })).json();
    expect(res).toEqual({ ...hook, consecutiveFailures: 3 });
  });

  it('deactivating cancels pending deliveries, leaving finished ones alone', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    const hook = await createHook(api);
    const other = await createHook(api);
    await insertDelivery(h, org.organizationId, hook.id, 'succeeded');
    await insertDelivery(h, org.organizationId, hook.id);
    await insertDelivery(h, org.organizationId, hook.id);
    await insertDelivery(h, org.organizationId, other.id);
    const res = await api.patch(hook.id, { active: false });
    expect(res.statusCode).toBe(200);
    expect(res.json().active).toBe(false);
    expect(await deliveryStatuses(hook.id)).toEqual(['succeeded', 'cancelled', 'cancelled']);
    expect(await deliveryStatuses(other.id)).toEqual(['pending']);
    const cancelled = await h.db
      .selectFrom('deliveries')
      .selectAll()
      .where('webhook_id', '=', hook.id)
      .where('status', '=', 'cancelled')
      .execute();
    for (const d of cancelled) {
      expect(d.next_attempt_at).toBeNull();
      expect(d.completed_at).toBe(h.clock.now());
    }
  });

  it('deletes a webhook together with its deliveries and their attempts', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    const hook = await createHook(api);
    const keep = await createHook(api);
    const deliveryId = await insertDelivery(h, org.organizationId, hook.id, 'succeeded');
    await insertDelivery(h, org.organizationId, hook.id);
    await insertDelivery(h, org.organizationId, keep.id);
    await h.db
      .insertInto('delivery_attempts')
      .values({
        id: newId(),
        delivery_id: deliveryId,
        number: 1,
        started_at: h.clock.now(),
        duration_ms: 12,
        status_code: 200,
        response_headers: '{}',
        response_body: 'ok',
        response_body_truncated: 0,
        error_code: null,
        error_message: null,
      })
      .execute();
    const res = await api.remove(hook.id);
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect((await api.get(hook.id)).statusCode).toBe(404);
    expect((await api.remove(hook.id)).statusCode).toBe(404);
    expect(await deliveryStatuses(hook.id)).toEqual([]);
    const attempts = await h.db
      .selectFrom('delivery_attempts')
      .select('id')
      .where('delivery_id', '=', deliveryId)
      .execute();
    expect(attempts).toEqual([]);
    expect(await deliveryStatuses(keep.id)).toEqual(['pending']);
  });

  it('lists newest first with cursor pagination and an active filter', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await createHook(api, { name: `hook ${i}`, active: i % 2 === 0 })).id);
    }
    const first = (await api.list('?limit=2')).json();
    expect(first.data.map((w: { id: string }) => w.id)).toEqual([ids[4], ids[3]]);
    const second = (await api.list(`?limit=2&cursor=${first.nextCursor}`)).json();
    expect(second.data.map((w: { id: string }) => w.id)).toEqual([ids[2], ids[1]]);
    const third = (await api.list(`?limit=2&cursor=${second.nextCursor}`)).json();
    expect(third.data.map((w: { id: string }) => w.id)).toEqual([ids[0]]);
    expect(third.nextCursor).toBeNull();
    const active = (await api.list('?active=true')).json();
    expect(active.data.map((w: { id: string }) => w.id)).toEqual([ids[4], ids[2], ids[0]]);
    const inactive = (await api.list('?active=false')).json();
    expect(inactive.data.map((w: { id: string }) => w.id)).toEqual([ids[3], ids[1]]);
    const bad = await api.list('?active=maybe');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details[0]).toMatchObject({ field: 'active', in: 'query' });
  });

  it('is admin-only: an agent key gets 403 on every endpoint and changes nothing', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    const hook = await createHook(api);
    const key = await agentKey(h, org);
    const answers = [
      await api.list('', key),
      await api.create(TICKET_HOOK, key),
      await api.get(hook.id, key),
      await api.patch(hook.id, { name: 'agent was here' }, key),
      await api.remove(hook.id, key),
    ];
    for (const res of answers) {
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('forbidden');
    }
    expect(await countWebhooks(h, org.organizationId)).toBe(1);
    expect((await api.get(hook.id)).json()).toEqual(hook);
  });

  it("answers 404 for another organization's webhooks and changes nothing", async () => {
    const a = await h.createOrg();
    const b = await h.createOrg();
    const hook = await createHook(webhookApi(h, b), { secret: SECRET });
    await insertDelivery(h, b.organizationId, hook.id);
    const asA = webhookApi(h, a);
    const answers = [
      await asA.get(hook.id),
      await asA.patch(hook.id, { name: 'stolen', active: false }),
      await asA.remove(hook.id),
      await asA.get('not-a-uuid'),
    ];
    for (const res of answers) {
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
    expect((await asA.list()).json().data).toEqual([]);
    expect((await webhookApi(h, b).get(hook.id)).json()).toEqual(hook);
    expect(await deliveryStatuses(hook.id)).toEqual(['pending']);
  });
});
