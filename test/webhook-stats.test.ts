/** `GET …/{id}/stats`: attempts per clock hour by outcome, for the admin console's chart. */
import { expect, it } from 'vitest';
import { newId } from '../src/ids.js';
import { forEachDialect, type Harness } from './support/harness.js';
import {
  agentKey,
  createSurvey,
  createWebhook,
  insertDelivery,
  problemFields,
} from './support/webhooks.js';

const HOUR = 3_600_000;

/** An attempt row of `deliveryId` started at `startedAt`: a status code, or none (an error). */
async function attempt(
  h: Harness,
  deliveryId: string,
  startedAt: number,
  statusCode: number | null,
  number = 1,
): Promise<void> {
  await h.db
    .insertInto('delivery_attempts')
    .values({
      id: newId(),
      delivery_id: deliveryId,
      number,
      started_at: startedAt,
      duration_ms: 12,
      status_code: statusCode,
      response_headers: statusCode === null ? null : '{}',
      response_body: statusCode === null ? null : 'ok',
      response_body_truncated: 0,
      error_code: statusCode === null ? 'timeout' : null,
      error_message: statusCode === null ? 'timed out' : null,
    })
    .execute();
}

forEachDialect('webhook stats API', (h) => {
  it('counts attempts per clock hour by outcome, oldest hour first, zeros included', async () => {
    const org = await h.createOrg();
    const hook = await createWebhook(h, org, { url: 'https://hooks.example.com/a' });
    const other = await createWebhook(h, org, { url: 'https://hooks.example.com/b' });
    const now = h.clock.now(); // 10:30 UTC
    const thisHour = Math.floor(now / HOUR) * HOUR;
    const d1 = await insertDelivery(h, org.organizationId, hook.id, 'failed');
    const d2 = await insertDelivery(h, org.organizationId, hook.id, 'succeeded');
    await attempt(h, d1, thisHour + 1, 500, 1);
    await attempt(h, d1, thisHour + 2, null, 2);
    await attempt(h, d2, thisHour - 1, 200); // the previous hour
    await attempt(h, d2, thisHour - 2 * HOUR, 204, 2); // two hours back
    await attempt(h, d2, thisHour - 24 * HOUR, 200, 3); // outside the 24 hours
    // Another webhook's attempts and a test delivery's are not counted.
    await attempt(h, await insertDelivery(h, org.organizationId, other.id), thisHour, 500);
    const test = await insertDelivery(h, org.organizationId, hook.id, 'succeeded');
    await h.db.updateTable('deliveries').set({ is_test: 1 }).where('id', '=', test).execute();
    await attempt(h, test, thisHour, 200);

    const res = await h.request({
      method: 'GET',
      url: `/api/webhooks/${hook.id}/stats`,
      key: org.apiKey,
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      webhookId: hook.id,
      hours: 24,
      from: new Date(thisHour - 23 * HOUR).toISOString(),
      to: new Date(thisHour + HOUR).toISOString(),
      totals: { attempts: 4, succeeded: 2, httpError: 1, noResponse: 1, successRate: 0.5 },
    });
    expect(body.buckets).toHaveLength(24);
    expect(body.buckets[0].hour).toBe(new Date(thisHour - 23 * HOUR).toISOString());
    expect(body.buckets.slice(-3)).toEqual([
      {
        hour: new Date(thisHour - 2 * HOUR).toISOString(),
        succeeded: 1,
        httpError: 0,
        noResponse: 0,
      },
      { hour: new Date(thisHour - HOUR).toISOString(), succeeded: 1, httpError: 0, noResponse: 0 },
      { hour: new Date(thisHour).toISOString(), succeeded: 0, httpError: 1, noResponse: 1 },
    ]);

    const two = (
      await h.request({
        method: 'GET',
        url: `/api/webhooks/${hook.id}/stats?hours=2`,
        key: org.apiKey,
      })
    ).json();
    expect(two.buckets).toHaveLength(2);
    expect(two.totals).toMatchObject({ attempts: 3, succeeded: 1, successRate: 1 / 3 });
  });

  it('answers a null success rate without attempts, and works for survey webhooks', async () => {
    const org = await h.createOrg();
    const surveyId = await createSurvey(h, org);
    const created = await h.request({
      method: 'POST',
      url: `/api/surveys/${surveyId}/webhooks`,
      key: org.apiKey,
      payload: { name: 'CSAT', url: 'https://hooks.example.com/s' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const hook = created.json();
    const url = `/api/surveys/${surveyId}/webhooks/${hook.id}/stats?hours=1`;
    const empty = (await h.request({ method: 'GET', url, key: org.apiKey })).json();
    expect(empty.totals).toEqual({
      attempts: 0,
      succeeded: 0,
      httpError: 0,
      noResponse: 0,
      successRate: null,
    });
    await attempt(
      h,
      await insertDelivery(h, org.organizationId, hook.id, 'succeeded'),
      h.clock.now(),
      201,
    );
    const one = (await h.request({ method: 'GET', url, key: org.apiKey })).json();
    expect(one.totals).toMatchObject({ attempts: 1, successRate: 1 });
    // The ticket path does not reach a survey webhook.
    const wrong = await h.request({
      method: 'GET',
      url: `/api/webhooks/${hook.id}/stats`,
      key: org.apiKey,
    });
    expect(wrong.statusCode).toBe(404);
  });

  it('needs an admin key, validates hours, and hides other organizations', async () => {
    const org = await h.createOrg();
    const hook = await createWebhook(h, org, { url: 'https://hooks.example.com/a' });
    const url = `/api/webhooks/${hook.id}/stats`;
    expect((await h.request({ method: 'GET', url })).statusCode).toBe(401);
    const agent = await h.request({ method: 'GET', url, key: await agentKey(h, org) });
    expect(agent.statusCode).toBe(403);
    for (const query of ['hours=0', 'hours=169', 'hours=abc', 'bogus=1']) {
      const res = await h.request({ method: 'GET', url: `${url}?${query}`, key: org.apiKey });
      expect(res.statusCode, query).toBe(400);
      expect(problemFields(res).length, query).toBeGreaterThan(0);
    }
    const stranger = await h.createOrg();
    expect((await h.request({ method: 'GET', url, key: stranger.apiKey })).statusCode).toBe(404);
  });
});
