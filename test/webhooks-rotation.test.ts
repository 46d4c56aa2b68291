/**
 * Secret rotation (`POST …/{id}/secret/rotate`) and the per-webhook rate
 * limit field (docs/api.md, "Rotating a secret" and "Webhooks"), on ticket
 * and survey webhooks. What signs a delivery during an overlap and how the
 * limit is kept are the delivery engine's (its own tests); here: the
 * management API and the columns it writes.
 */
import { expect, it } from 'vitest';
import { iso } from '../src/clock.js';
import { newId } from '../src/ids.js';
import { whsecProblem } from '../src/webhooks/secrets.js';
import { forEachDialect, type Org } from './support/harness.js';
import {
  SECRET,
  agentKey,
  createHook,
  createSurvey,
  insertDelivery,
  webhookApi,
  type WebhookApi,
} from './support/webhooks.js';

const HOUR = 3_600_000;
const OTHER_SECRET = 'plain-secret-0123456789';
const THIRD_SECRET = `whsec_${Buffer.from('hookdesk-third-secret-0123456').toString('base64')}`;

/** A collection's calls, with the key they use. */
type Api = WebhookApi & { key: string };

forEachDialect('webhook secret rotation and rate limits', (h) => {
  const apiOf = (org: Org, base?: string): Api =>
    Object.assign(webhookApi(h, org, base), { key: org.apiKey });
  const rotate = (api: Api, id: string, body?: unknown, key?: string) =>
    h.request({
      method: 'POST',
      url: `${api.base}/${id}/secret/rotate`,
      key: key ?? api.key,
      ...(body === undefined ? {} : { payload: body as object }),
    });
  const rowOf = (id: string) =>
    h.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const setup = async (extra: Record<string, unknown> = { secret: SECRET }) => {
    const org = await h.createOrg();
    const api = apiOf(org);
    return { org, api, hook: await createHook(api, extra) };
  };

  it('generates a whsec_ secret, shown once, and keeps the old one signing for 24 hours', async () => {
    const { api, hook } = await setup();
    h.clock.advance(1000);
    const now = h.clock.now();
    const res = await rotate(api, hook.id);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['previousSecretExpiresAt', 'secret']);
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(whsecProblem(body.secret)).toBeNull();
    expect(Buffer.from(body.secret.slice(6), 'base64')).toHaveLength(32);
    expect(body.previousSecretExpiresAt).toBe(iso(now + 24 * HOUR));

    const row = await rowOf(hook.id);
    expect(row).toMatchObject({
      secret: body.secret,
      previous_secret: SECRET,
      previous_secret_expires_at: now + 24 * HOUR,
      updated_at: now,
    });
    // Never again: not on reads, not in lists.
    const got = await api.get(hook.id);
    expect(got.json()).toMatchObject({
      hasSecret: true,
      previousSecretExpiresAt: iso(now + 24 * HOUR),
      updatedAt: iso(now),
    });
    for (const read of [got, await api.list()]) {
      expect(read.body).not.toContain(body.secret);
      expect(read.body).not.toContain(SECRET);
      expect(read.body).not.toContain('"secret"');
    }
    // Two rotations generate two different secrets; an empty JSON body is the same as none.
    const again = await rotate(api, hook.id, {});
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json().secret).not.toBe(body.secret);
  });

  it('shows the expiry only while the previous secret still signs', async () => {
    const { api, hook } = await setup();
    const now = h.clock.now();
    expect((await rotate(api, hook.id, { overlapHours: 1 })).statusCode).toBe(200);
    h.clock.advance(HOUR - 1);
    expect((await api.get(hook.id)).json().previousSecretExpiresAt).toBe(iso(now + HOUR));
    h.clock.advance(1);
    expect((await api.get(hook.id)).json().previousSecretExpiresAt).toBeNull();
    const listed = (await api.list()).json().data[0];
    expect(listed.previousSecretExpiresAt).toBeNull();
    // The stored column is left as it was: it signs no more, and the next rotation replaces it.
    expect((await rowOf(hook.id)).previous_secret_expires_at).toBe(now + HOUR);
  });

  it('takes a given secret and overlap', async () => {
    const { api, hook } = await setup();
    const now = h.clock.now();
    const res = await rotate(api, hook.id, { secret: OTHER_SECRET, overlapHours: 168 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      secret: OTHER_SECRET,
      previousSecretExpiresAt: iso(now + 168 * HOUR),
    });
    expect(await rowOf(hook.id)).toMatchObject({
      secret: OTHER_SECRET,
      previous_secret: SECRET,
      previous_secret_expires_at: now + 168 * HOUR,
    });
  });

  it('replaces at once with overlapHours 0', async () => {
    const { api, hook } = await setup();
    const res = await rotate(api, hook.id, { secret: THIRD_SECRET, overlapHours: 0 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ secret: THIRD_SECRET, previousSecretExpiresAt: null });
    expect(await rowOf(hook.id)).toMatchObject({
      secret: THIRD_SECRET,
      previous_secret: null,
      previous_secret_expires_at: null,
    });
    expect((await api.get(hook.id)).json().previousSecretExpiresAt).toBeNull();
  });

  it('gives a webhook without a secret one, with no overlap', async () => {
    const { api, hook } = await setup({ secret: null });
    expect(hook.hasSecret).toBe(false);
    const res = await rotate(api, hook.id, { overlapHours: 24 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().previousSecretExpiresAt).toBeNull();
    expect(await rowOf(hook.id)).toMatchObject({
      secret: res.json().secret,
      previous_secret: null,
      previous_secret_expires_at: null,
    });
    expect((await api.get(hook.id)).json()).toMatchObject({
      hasSecret: true,
      previousSecretExpiresAt: null,
    });
  });

  it('replaces the older previous secret when rotating during an overlap', async () => {
    const { api, hook } = await setup();
    const first = h.clock.now();
    expect((await rotate(api, hook.id, { secret: OTHER_SECRET })).statusCode).toBe(200);
    expect(await rowOf(hook.id)).toMatchObject({
      secret: OTHER_SECRET,
      previous_secret: SECRET,
      previous_secret_expires_at: first + 24 * HOUR,
    });
    h.clock.advance(HOUR);
    const second = h.clock.now();
    const res = await rotate(api, hook.id, { secret: THIRD_SECRET, overlapHours: 12 });
    expect(res.json()).toEqual({
      secret: THIRD_SECRET,
      previousSecretExpiresAt: iso(second + 12 * HOUR),
    });
    // At most two sign: SECRET is gone.
    const row = await rowOf(hook.id);
    expect(row).toMatchObject({
      secret: THIRD_SECRET,
      previous_secret: OTHER_SECRET,
      previous_secret_expires_at: second + 12 * HOUR,
    });
    // During an overlap, overlapHours 0 ends it too.
    const now = await rotate(api, hook.id, { secret: SECRET, overlapHours: 0 });
    expect(now.json().previousSecretExpiresAt).toBeNull();
    expect(await rowOf(hook.id)).toMatchObject({
      secret: SECRET,
      previous_secret: null,
      previous_secret_expires_at: null,
    });
  });

  it('refuses rotating to the current secret, changing nothing', async () => {
    const { api, hook } = await setup();
    const before = await rowOf(hook.id);
    const res = await rotate(api, hook.id, { secret: SECRET });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation_failed');
    expect(res.json().error.details.map((d: { field: string }) => d.field)).toEqual(['secret']);
    expect(await rowOf(hook.id)).toEqual(before);
  });

  it('ends the overlap when a PATCH sets or removes the secret, and keeps it otherwise', async () => {
    const { api, hook } = await setup();
    expect((await rotate(api, hook.id, { secret: OTHER_SECRET })).statusCode).toBe(200);
    const renamed = await api.patch(hook.id, { name: 'Renamed' });
    expect(renamed.json().previousSecretExpiresAt).not.toBeNull();
    expect((await rowOf(hook.id)).previous_secret).toBe(SECRET);

    const replaced = await api.patch(hook.id, { secret: THIRD_SECRET });
    expect(replaced.statusCode, replaced.body).toBe(200);
    expect(replaced.json()).toMatchObject({ hasSecret: true, previousSecretExpiresAt: null });
    expect(await rowOf(hook.id)).toMatchObject({
      secret: THIRD_SECRET,
      previous_secret: null,
      previous_secret_expires_at: null,
    });

    expect((await rotate(api, hook.id, { secret: OTHER_SECRET })).statusCode).toBe(200);
    const removed = await api.patch(hook.id, { secret: null });
    expect(removed.json()).toMatchObject({ hasSecret: false, previousSecretExpiresAt: null });
    expect(await rowOf(hook.id)).toMatchObject({
      secret: null,
      previous_secret: null,
      previous_secret_expires_at: null,
    });
  });

  it('rotates survey webhooks on their own path, and 404s across scopes', async () => {
    const org = await h.createOrg();
    const surveyId = await createSurvey(h, org);
    const survey = apiOf(org, `/api/surveys/${surveyId}/webhooks`);
    const tickets = apiOf(org);
    const surveyHook = await createHook(survey, { secret: SECRET });
    const ticketHook = await createHook(tickets, { secret: SECRET });
    const now = h.clock.now();
    const res = await rotate(survey, surveyHook.id, { overlapHours: 2 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().previousSecretExpiresAt).toBe(iso(now + 2 * HOUR));
    expect((await survey.get(surveyHook.id)).json().previousSecretExpiresAt).toBe(
      iso(now + 2 * HOUR),
    );

    const before = await rowOf(ticketHook.id);
    const other = await h.createOrg();
    const misses: [Api, string][] = [
      [survey, ticketHook.id],
      [tickets, surveyHook.id],
      [tickets, newId()],
      [apiOf(org, `/api/surveys/${newId()}/webhooks`), surveyHook.id],
      [apiOf(other), ticketHook.id],
    ];
    for (const [api, id] of misses) {
      const miss = await rotate(api, id, {});
      expect(miss.statusCode, `${api.base}/${id}`).toBe(404);
      expect(miss.json().error.code).toBe('not_found');
    }
    expect(await rowOf(ticketHook.id)).toEqual(before);
  });

  it('needs an admin key, like the other webhook routes', async () => {
    const { org, api, hook } = await setup();
    const before = await rowOf(hook.id);
    const res = await rotate(api, hook.id, {}, await agentKey(h, org));
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('forbidden');
    const none = await h.request({ method: 'POST', url: `/api/webhooks/${hook.id}/secret/rotate` });
    expect(none.statusCode).toBe(401);
    expect(await rowOf(hook.id)).toEqual(before);
  });

  it('accepts Standard Webhooks secrets of 24 to 64 bytes and plain ones, on create and PATCH', async () => {
    const api = apiOf(await h.createOrg());
    for (const secret of [
      `whsec_${Buffer.alloc(24, 7).toString('base64')}`,
      `whsec_${Buffer.alloc(64, 9).toString('base64')}`,
      `whsec_${Buffer.alloc(25, 1).toString('base64')}`,
      'a plain secret, 16+',
    ]) {
      const created = await createHook(api, { secret });
      expect((await rowOf(created.id)).secret).toBe(secret);
      const bare = await createHook(api);
      const patched = await api.patch(bare.id, { secret });
      expect(patched.statusCode, patched.body).toBe(200);
      expect((await rowOf(bare.id)).secret).toBe(secret);
    }
  });

  // -------------------------------------------------------------------------
  // rateLimitPerSecond

  it('stores rateLimitPerSecond on create and PATCH, null meaning unlimited', async () => {
    const org = await h.createOrg();
    const surveyId = await createSurvey(h, org);
    for (const api of [apiOf(org), apiOf(org, `/api/surveys/${surveyId}/webhooks`)]) {
      const unlimited = await createHook(api);
      expect(unlimited.rateLimitPerSecond).toBeNull();
      expect((await rowOf(unlimited.id)).rate_limit_per_second).toBeNull();

      const hook = await createHook(api, { rateLimitPerSecond: 5 });
      expect(hook.rateLimitPerSecond).toBe(5);
      expect((await api.get(hook.id)).json().rateLimitPerSecond).toBe(5);
      expect((await rowOf(hook.id)).rate_limit_per_second).toBe(5);

      for (const value of [10_000, 1, null, 7]) {
        const res = await api.patch(hook.id, { rateLimitPerSecond: value });
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json().rateLimitPerSecond).toBe(value);
        expect((await api.get(hook.id)).json().rateLimitPerSecond).toBe(value);
        expect((await rowOf(hook.id)).rate_limit_per_second).toBe(value);
      }
      // Another field's PATCH leaves it alone.
      expect((await api.patch(hook.id, { name: 'x' })).json().rateLimitPerSecond).toBe(7);
    }
  });

  it('releases the starts the old limit reserved when the limit changes', async () => {
    const { org, api, hook } = await setup({ rateLimitPerSecond: 2 });
    const later = h.clock.now() + 60_000;
    const waiting = await insertDelivery(h, org.organizationId, hook.id);
    const queued = await insertDelivery(h, org.organizationId, hook.id);
    const done = await insertDelivery(h, org.organizationId, hook.id, 'failed');
    /** As the limit leaves them: `waiting` holds a start reserved at `later`, the webhook's next. */
    const reserve = async () => {
      await h.db
        .updateTable('deliveries')
        .set({ next_attempt_at: later, rate_slot: 1 })
        .where('id', '=', waiting)
        .execute();
      await h.db
        .updateTable('webhooks')
        .set({ rate_next_at: later })
        .where('id', '=', hook.id)
        .execute();
    };
    await reserve();
    // A retry due later is no reserved start: it keeps its time.
    await h.db
      .updateTable('deliveries')
      .set({ next_attempt_at: later })
      .where('id', '=', queued)
      .execute();
    const deliveries = async () =>
      Object.fromEntries(
        (
          await h.db
            .selectFrom('deliveries')
            .select(['id', 'status', 'next_attempt_at', 'rate_slot'])
            .where('webhook_id', '=', hook.id)
            .execute()
        ).map((d) => [d.id, d]),
      );
    const before = await deliveries();

    // The same limit again, or another field: nothing moves.
    h.clock.advance(1000);
    expect((await api.patch(hook.id, { rateLimitPerSecond: 2, name: 'n' })).statusCode).toBe(200);
    expect(await deliveries()).toEqual(before);
    expect((await rowOf(hook.id)).rate_next_at).toBe(later);

    h.clock.advance(1000);
    const now = h.clock.now();
    const res = await api.patch(hook.id, { rateLimitPerSecond: 50 });
    expect(res.statusCode, res.body).toBe(200);
    const after = await deliveries();
    expect(after[waiting]).toMatchObject({ status: 'pending', next_attempt_at: now, rate_slot: 0 });
    expect(after[queued]).toEqual(before[queued]);
    expect(after[done]).toEqual(before[done]);
    expect(await rowOf(hook.id)).toMatchObject({ rate_limit_per_second: 50, rate_next_at: null });

    // To unlimited likewise.
    await reserve();
    h.clock.advance(1000);
    expect((await api.patch(hook.id, { rateLimitPerSecond: null })).statusCode).toBe(200);
    expect((await deliveries())[waiting]).toMatchObject({
      next_attempt_at: h.clock.now(),
      rate_slot: 0,
    });
    expect(await rowOf(hook.id)).toMatchObject({ rate_limit_per_second: null, rate_next_at: null });
  });

  it('documents the new fields and the rotate route in the OpenAPI document', async () => {
    const doc = (await h.request({ method: 'GET', url: '/openapi.json' })).json();
    for (const base of ['/api/webhooks/{id}', '/api/surveys/{surveyId}/webhooks/{id}']) {
      const op = doc.paths[`${base}/secret/rotate`].post;
      const body = op.requestBody.content['application/json'].schema;
      expect(Object.keys(body.properties)).toEqual(['secret', 'overlapHours']);
      expect(body.properties.overlapHours).toMatchObject({ minimum: 0, maximum: 168 });
      for (const p of Object.values<any>(body.properties)) expect(p.description).toBeTruthy();
      const answer = op.responses['200'].content['application/json'].schema;
      expect(Object.keys(answer.properties)).toEqual(['secret', 'previousSecretExpiresAt']);
      const patch = doc.paths[base].patch.requestBody.content['application/json'].schema;
      expect(patch.properties.rateLimitPerSecond).toMatchObject({ minimum: 1, maximum: 10_000 });
      expect(patch.properties.rateLimitPerSecond.description).toBeTruthy();
      const resource = doc.paths[base].get.responses['200'].content['application/json'].schema;
      expect(resource.properties.previousSecretExpiresAt.description).toBeTruthy();
      expect(resource.properties.rateLimitPerSecond.description).toBeTruthy();
    }
  });
});
