import { expect, it } from 'vitest';
import { forEachDialect, type Harness, type Org } from './support/harness.js';
import { newId } from '../src/ids.js';
import { MASKED_HEADER_VALUE as MASK } from '../src/webhooks/headers.js';
import {
  SURVEY_HOOK,
  TICKET_HOOK,
  agentKey,
  attemptsOf,
  countWebhooks,
  createHook,
  createSurvey,
  deliveriesOf,
  insertDelivery,
  webhookApi,
} from './support/webhooks.js';

forEachDialect('survey webhooks', (h) => {
  const surveyApi = (org: Org, surveyId: string) =>
    webhookApi(h, org, `/api/surveys/${surveyId}/webhooks`);

  async function surveyWithApi(org: Org) {
    const surveyId = await createSurvey(h, org);
    return { surveyId, api: surveyApi(org, surveyId) };
  }

  it('creates with the default events and the survey id', async () => {
    const org = await h.createOrg();
    const { surveyId, api } = await surveyWithApi(org);
    const res = await api.create(SURVEY_HOOK);
    expect(res.statusCode).toBe(201);
    // Signed by default: the generated secret is in this answer only.
    const { secret, ...hook } = res.json();
    expect(secret).toMatch(/^whsec_/);
    expect(hook).toMatchObject({
      organizationId: org.organizationId,
      surveyId,
      events: ['survey.response_completed'],
      active: true,
      hasSecret: true,
      retryPolicy: [1, 5, 30, 300, 1800, 7200],
    });
    expect((await api.get(hook.id)).json()).toEqual(hook);
    const explicit = await createHook(api, { events: ['survey.response_completed'] });
    expect(explicit.events).toEqual(['survey.response_completed']);
  });

  it('updates, lists and deletes through the survey path', async () => {
    const org = await h.createOrg();
    const { api } = await surveyWithApi(org);
    const first = await createHook(api);
    const second = await createHook(api, { active: false });
    const patched = await api.patch(first.id, { name: 'Renamed', headers: { 'X-Survey': '1' } });
    expect(patched.json()).toMatchObject({ name: 'Renamed', headers: { 'X-Survey': MASK } });
    expect((await api.list()).json().data.map((w: { id: string }) => w.id)).toEqual([
      second.id,
      first.id,
    ]);
    expect((await api.list('?active=false')).json().data).toHaveLength(1);
    expect((await api.remove(second.id)).statusCode).toBe(204);
    expect((await api.list()).json().data.map((w: { id: string }) => w.id)).toEqual([first.id]);
  });

  it('allows at most 10 webhooks per survey; the 11th answers 409', async () => {
    const org = await h.createOrg();
    const { api } = await surveyWithApi(org);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await createHook(api, { name: `hook ${i}` })).id);
    const eleventh = await api.create(SURVEY_HOOK);
    expect(eleventh.statusCode).toBe(409);
    expect(eleventh.json().error.code).toBe('conflict');
    expect(await countWebhooks(h, org.organizationId)).toBe(10);
    // Other surveys and ticket webhooks have their own room.
    const other = await surveyWithApi(org);
    expect((await other.api.create(SURVEY_HOOK)).statusCode).toBe(201);
    expect((await webhookApi(h, org).create(TICKET_HOOK)).statusCode).toBe(201);
    // Deleting one frees a slot.
    expect((await api.remove(ids[0]!)).statusCode).toBe(204);
    expect((await api.create(SURVEY_HOOK)).statusCode).toBe(201);
    expect((await api.create(SURVEY_HOOK)).statusCode).toBe(409);
  });

  it('keeps the limit under concurrent creates', async () => {
    const org = await h.createOrg();
    const { surveyId, api } = await surveyWithApi(org);
    const answers = await Promise.all(
      Array.from({ length: 14 }, (_, i) => api.create({ ...SURVEY_HOOK, name: `c${i}` })),
    );
    const codes = answers.map((r) => r.statusCode).sort();
    expect(codes.filter((c) => c === 201)).toHaveLength(10);
    expect(codes.filter((c) => c === 409)).toHaveLength(4);
    const stored = await h.db
      .selectFrom('webhooks')
      .select('id')
      .where('survey_id', '=', surveyId)
      .execute();
    expect(stored).toHaveLength(10);
  });

  it("answers 404 for another organization's survey, or no survey, on every endpoint", async () => {
    const a = await h.createOrg();
    const b = await h.createOrg();
    const { surveyId, api: asB } = await surveyWithApi(b);
    const hook = await createHook(asB);
    for (const target of [surveyId, '00000000-0000-7000-8000-000000000000', 'nope']) {
      const asA = surveyApi(a, target);
      const answers = [
        await asA.list(),
        await asA.create(SURVEY_HOOK),
        await asA.get(hook.id),
        await asA.patch(hook.id, { name: 'stolen' }),
        await asA.remove(hook.id),
      ];
      for (const res of answers) {
        expect(res.statusCode).toBe(404);
        expect(res.json().error.code).toBe('not_found');
      }
    }
    expect(await countWebhooks(h, a.organizationId)).toBe(0);
    expect((await asB.get(hook.id)).json()).toEqual(hook);
  });

  it('keeps each survey, and ticket webhooks, to their own webhooks', async () => {
    const org = await h.createOrg();
    const one = await surveyWithApi(org);
    const two = await surveyWithApi(org);
    const tickets = webhookApi(h, org);
    const hookOne = await createHook(one.api);
    const hookTwo = await createHook(two.api);
    const ticketHook = await createHook(tickets);
    const isolated = async (api: ReturnType<typeof webhookApi>, foreignId: string) => {
      expect((await api.get(foreignId)).statusCode).toBe(404);
      expect((await api.patch(foreignId, { active: false })).statusCode).toBe(404);
      expect((await api.remove(foreignId)).statusCode).toBe(404);
    };
    await isolated(one.api, hookTwo.id);
    await isolated(one.api, ticketHook.id);
    await isolated(tickets, hookOne.id);
    const ids = async (api: ReturnType<typeof webhookApi>) =>
      (await api.list()).json().data.map((w: { id: string }) => w.id);
    expect(await ids(one.api)).toEqual([hookOne.id]);
    expect(await ids(two.api)).toEqual([hookTwo.id]);
    expect(await ids(tickets)).toEqual([ticketHook.id]);
    for (const [api, hook] of [
      [one.api, hookOne],
      [two.api, hookTwo],
      [tickets, ticketHook],
    ] as const) {
      expect((await api.get(hook.id)).json()).toEqual(hook);
    }
  });

  it('is admin-only', async () => {
    const org = await h.createOrg();
    const { api } = await surveyWithApi(org);
    const hook = await createHook(api);
    const key = await agentKey(h, org);
    for (const res of [
      await api.list('', key),
      await api.create(SURVEY_HOOK, key),
      await api.get(hook.id, key),
      await api.patch(hook.id, { active: false }, key),
      await api.remove(hook.id, key),
    ]) {
      expect(res.statusCode).toBe(403);
    }
    expect((await api.get(hook.id)).json()).toEqual(hook);
  });

  it('goes with its survey when the survey is deleted', async () => {
    const org = await h.createOrg();
    const { surveyId, api } = await surveyWithApi(org);
    await createHook(api);
    const del = await deleteSurvey(h, org, surveyId);
    expect(del.statusCode).toBe(204);
    expect(await countWebhooks(h, org.organizationId)).toBe(0);
  });

  it('refuses an agent deleting a survey with webhooks and keeps them and their deliveries; an admin may', async () => {
    const org = await h.createOrg();
    const { surveyId, api } = await surveyWithApi(org);
    const hook = await createHook(api);
    const deliveryId = await insertDelivery(h, org.organizationId, hook.id, 'failed');
    await h.db
      .insertInto('delivery_attempts')
      .values({
        id: newId(),
        delivery_id: deliveryId,
        number: 1,
        started_at: 0,
        duration_ms: 5,
        response_body_truncated: 0,
      })
      .execute();
    const stored = async () => ({
      surveys: (await h.db.selectFrom('surveys').select('id').where('id', '=', surveyId).execute())
        .length,
      webhooks: await countWebhooks(h, org.organizationId),
      deliveries: (await deliveriesOf(h, hook.id)).length,
      attempts: (await attemptsOf(h, deliveryId)).length,
    });
    const everything = { surveys: 1, webhooks: 1, deliveries: 1, attempts: 1 };
    expect(await stored()).toEqual(everything);

    const agent = await agentKey(h, org);
    const refused = await deleteSurvey(h, org, surveyId, agent);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toMatchObject({ code: 'forbidden', details: [] });
    expect(await stored()).toEqual(everything);

    // Without webhooks an agent still deletes surveys; an unknown one stays 404.
    const plain = await createSurvey(h, org);
    expect((await deleteSurvey(h, org, plain, agent)).statusCode).toBe(204);
    expect((await deleteSurvey(h, org, plain, agent)).statusCode).toBe(404);

    expect((await deleteSurvey(h, org, surveyId)).statusCode).toBe(204);
    expect(await stored()).toEqual({ surveys: 0, webhooks: 0, deliveries: 0, attempts: 0 });
  });
});

function deleteSurvey(h: Harness, org: Org, surveyId: string, key = org.apiKey) {
  return h.request({ method: 'DELETE', url: `/api/surveys/${surveyId}`, key });
}
