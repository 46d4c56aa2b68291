/** The delivery log API (list, detail, retry, test), survey webhooks end to end, metrics and retention. */
import { expect, it } from 'vitest';
import { pruneOnce } from '../src/cli/retention.js';
import { forEachDialect } from './support/harness.js';
import { CA_FILE, useReceiver } from './support/receiver.js';
import {
  createSurvey,
  createTicket,
  createWebhook,
  deliveriesOf,
  webhookApi,
} from './support/webhooks.js';
import { testWorker } from './support/worker.js';

const ENV = {
  HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
  HOOKDESK_EGRESS_CA_FILE: CA_FILE,
  HOOKDESK_DELIVERY_TIMEOUT_MS: '1500',
};

forEachDialect(
  'delivery log API',
  (h) => {
    const receiver = useReceiver();

    it('lists deliveries with filters and shows each with its payload and attempts', async () => {
      receiver.respond = (r) =>
        r.path === '/log'
          ? { status: 500, body: 'nope', headers: { 'x-trace': 't1' } }
          : { status: 200 };
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/log'),
        events: ['ticket.created', 'ticket.updated'],
      });
      const ticket = await createTicket(h, org);
      h.clock.advance(60_000);
      await h.request({
        method: 'PATCH',
        url: `/api/tickets/${ticket.id}`,
        key: org.apiKey,
        payload: { subject: 'Renamed' },
      });
      await testWorker(h).runOnce();
      const base = `/api/webhooks/${hook.id}/deliveries`;
      const list = (await h.request({ method: 'GET', url: base, key: org.apiKey })).json();
      expect(list.data.map((d: { eventType: string }) => d.eventType)).toEqual([
        'ticket.updated',
        'ticket.created',
      ]);
      expect(Object.keys(list.data[0]).sort()).toEqual(
        [
          'attemptCount',
          'completedAt',
          'createdAt',
          'eventId',
          'eventType',
          'id',
          'nextAttemptAt',
          'status',
          'webhookId',
        ].sort(),
      );
      const q = async (query: string) =>
        (await h.request({ method: 'GET', url: `${base}?${query}`, key: org.apiKey }))
          .json()
          .data.map((d: { eventType: string }) => d.eventType);
      expect(await q('eventType=ticket.created')).toEqual(['ticket.created']);
      expect(await q('status=pending')).toHaveLength(2);
      expect(await q('status=succeeded')).toEqual([]);
      const t = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
      expect(await q(`since=${t(h.clock.now())}`)).toEqual(['ticket.updated']);
      expect(await q(`until=${t(h.clock.now())}`)).toEqual(['ticket.created']);
      expect(
        (await h.request({ method: 'GET', url: `${base}?status=bogus`, key: org.apiKey }))
          .statusCode,
      ).toBe(400);

      const detail = (
        await h.request({ method: 'GET', url: `${base}/${list.data[1].id}`, key: org.apiKey })
      ).json();
      const [row] = (await deliveriesOf(h, hook.id)).filter((d) => d.id === list.data[1].id);
      const sent = await h.db
        .selectFrom('events')
        .select('payload')
        .where('id', '=', row!.event_id)
        .executeTakeFirstOrThrow();
      expect(detail.payload).toBe(sent.payload);
      expect(detail).toMatchObject({
        status: 'pending',
        attemptCount: 1,
        nextAttemptAt: new Date(row!.next_attempt_at!).toISOString(),
      });
      expect(detail.attempts).toEqual([
        {
          number: 1,
          startedAt: expect.any(String),
          durationMs: expect.any(Number),
          statusCode: 500,
          responseHeaders: expect.objectContaining({ 'x-trace': 't1' }),
          responseBody: 'nope',
          responseBodyTruncated: false,
          error: null,
        },
      ]);
      const event = (
        await h.request({ method: 'GET', url: `/api/events/${detail.eventId}`, key: org.apiKey })
      ).json();
      expect(event.deliveries.map((d: { id: string }) => d.id)).toEqual([detail.id]);
    });

    it('retry queues a failed delivery for exactly one more attempt now', async () => {
      let ok = false;
      receiver.respond = (r) =>
        r.path === '/retry' ? { status: ok ? 200 : 500 } : { status: 200 };
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/retry'),
        events: ['ticket.created'],
        retryPolicy: [],
      });
      await createTicket(h, org);
      const worker = testWorker(h);
      await worker.runOnce();
      const [failed] = await deliveriesOf(h, hook.id);
      expect(failed!.status).toBe('failed');
      ok = true;
      const res = await h.request({
        method: 'POST',
        url: `/api/webhooks/${hook.id}/deliveries/${failed!.id}/retry`,
        key: org.apiKey,
      });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toMatchObject({ id: failed!.id, status: 'pending', completedAt: null });
      expect(await worker.runOnce()).toBe(1);
      const [done] = await deliveriesOf(h, hook.id);
      expect(done).toMatchObject({ status: 'succeeded', attempt_count: 2 });
      // Unknown, foreign and disabled cases.
      expect(
        (
          await h.request({
            method: 'POST',
            url: `/api/webhooks/${hook.id}/deliveries/nope/retry`,
            key: org.apiKey,
          })
        ).statusCode,
      ).toBe(404);
      const other = await h.createOrg();
      expect(
        (
          await h.request({
            method: 'POST',
            url: `/api/webhooks/${hook.id}/deliveries/${done!.id}/retry`,
            key: other.apiKey,
          })
        ).statusCode,
      ).toBe(404);
      await h.request({
        method: 'PATCH',
        url: `/api/webhooks/${hook.id}`,
        key: org.apiKey,
        payload: { active: false },
      });
      const disabled = await h.request({
        method: 'POST',
        url: `/api/webhooks/${hook.id}/deliveries/${done!.id}/retry`,
        key: org.apiKey,
      });
      expect(disabled.statusCode).toBe(409);
    });

    it('test sends webhook.test once, now, and answers with the outcome without counting failures', async () => {
      receiver.respond = (r) =>
        r.path === '/test-ok' ? { status: 200, body: 'pong' } : { status: 500, body: 'down' };
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, {
        url: receiver.url('/test-ok'),
        events: ['ticket.created'],
        secret: 'delivery-api-secret-0123456789',
      });
      const before = receiver.received.length;
      const res = await h.request({
        method: 'POST',
        url: `/api/webhooks/${hook.id}/test`,
        key: org.apiKey,
      });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({
        eventType: 'webhook.test',
        status: 'succeeded',
        attemptCount: 1,
      });
      expect(body.attempts).toHaveLength(1);
      expect(body.attempts[0]).toMatchObject({ statusCode: 200, responseBody: 'pong' });
      const got = receiver.received.slice(before);
      expect(got).toHaveLength(1);
      expect(got[0]!.headers['x-webhook-event']).toBe('webhook.test');
      expect(got[0]!.headers['x-webhook-delivery']).toBe(body.id);
      expect(got[0]!.headers['x-webhook-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(Object.keys(JSON.parse(got[0]!.body.toString()))).toEqual([
        'organizationId',
        'eventType',
        'eventId',
        'timestamp',
        'data',
      ]);

      const failing = await createWebhook(h, org, {
        url: receiver.url('/test-down'),
        events: ['ticket.created'],
      });
      for (let i = 0; i < 12; i++) {
        const r = (
          await h.request({
            method: 'POST',
            url: `/api/webhooks/${failing.id}/test`,
            key: org.apiKey,
          })
        ).json();
        expect(r).toMatchObject({ status: 'failed', attemptCount: 1 });
      }
      const row = await h.db
        .selectFrom('webhooks')
        .selectAll()
        .where('id', '=', failing.id)
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ consecutive_failures: 0, active: 1 });
      // No worker ever retries a test delivery.
      h.clock.advance(3_600_000);
      await testWorker(h).runOnce();
      const tests = await deliveriesOf(h, failing.id);
      expect(tests).toHaveLength(12);
      for (const d of tests)
        expect(d).toMatchObject({ status: 'failed', attempt_count: 1, is_test: 1 });
    });

    it('delivers survey responses to that survey’s webhooks with the survey envelope', async () => {
      receiver.respond = () => ({ status: 200 });
      const org = await h.createOrg();
      const surveyId = await createSurvey(h, org);
      const otherSurvey = await createSurvey(h, org);
      const api = webhookApi(h, org, `/api/surveys/${surveyId}/webhooks`);
      const created = await api.create({ name: 'results', url: receiver.url('/survey') });
      expect(created.statusCode).toBe(201);
      const hook = created.json();
      const ticketHook = await createWebhook(h, org, {
        url: receiver.url('/tickets-only'),
        events: ['ticket.created'],
      });
      await h.request({
        method: 'POST',
        url: `/api/surveys/${otherSurvey}/responses`,
        key: org.apiKey,
        payload: { answers: { score: { value: 3 } } },
      });
      const response = await h.request({
        method: 'POST',
        url: `/api/surveys/${surveyId}/responses`,
        key: org.apiKey,
        payload: {
          answers: { score: { value: 5 } },
          embeddedData: { ticketId: 'T-1' },
          metadata: { source: 'email' },
        },
      });
      expect(response.statusCode).toBe(201);
      const before = receiver.received.length;
      expect(await testWorker(h).runOnce()).toBe(1);
      const [got] = receiver.received.slice(before);
      expect(got!.path).toBe('/survey');
      const body = JSON.parse(got!.body.toString());
      expect(Object.keys(body)).toEqual(['surveyId', 'eventType', 'eventId', 'timestamp', 'data']);
      expect(body).toMatchObject({
        surveyId,
        eventType: 'survey.response_completed',
        data: {
          responseId: response.json().id,
          answers: { score: { value: 5 } },
          embeddedData: { ticketId: 'T-1' },
          metadata: { source: 'email' },
        },
      });
      expect((await deliveriesOf(h, hook.id))[0]!.status).toBe('succeeded');
      expect(await deliveriesOf(h, ticketHook.id)).toEqual([]);
      // Its test endpoint sends the survey envelope too.
      const test = (
        await h.request({
          method: 'POST',
          url: `/api/surveys/${surveyId}/webhooks/${hook.id}/test`,
          key: org.apiKey,
        })
      ).json();
      expect(test.status).toBe('succeeded');
      expect(Object.keys(JSON.parse(receiver.received.at(-1)!.body.toString()))[0]).toBe(
        'surveyId',
      );
    });

    it('exposes delivery and attempt metrics with queue gauges', async () => {
      receiver.respond = () => ({ status: 200 });
      const org = await h.createOrg();
      await createWebhook(h, org, { url: receiver.url('/metrics'), events: ['ticket.created'] });
      await createTicket(h, org);
      const due = await h.request({ method: 'GET', url: '/metrics' });
      expect(due.statusCode).toBe(200);
      expect(due.headers['content-type']).toContain('text/plain');
      const pending = Number(/^hookdesk_deliveries_pending (\d+)/m.exec(due.body)?.[1]);
      expect(pending).toBeGreaterThanOrEqual(1);
      expect(due.body).toMatch(/^hookdesk_oldest_due_delivery_age_seconds \d/m);
      await testWorker(h).runOnce();
      const after = (await h.request({ method: 'GET', url: '/metrics' })).body;
      expect(after).toMatch(/^hookdesk_deliveries_total\{outcome="succeeded"\} [1-9]/m);
      expect(after).toMatch(
        /^hookdesk_delivery_attempts_total\{outcome="success",error_code="none"\} [1-9]/m,
      );
      expect(after).toMatch(
        /^hookdesk_delivery_attempt_duration_seconds_count\{outcome="success"\} [1-9]/m,
      );
      expect(Number(/^hookdesk_deliveries_pending (\d+)/m.exec(after)?.[1])).toBe(pending - 1);
    });

    it('prunes finished deliveries and their attempts after the retention period, keeping pending ones', async () => {
      receiver.respond = (r) => ({ status: r.path === '/keep' ? 500 : 200 });
      const org = await h.createOrg();
      const done = await createWebhook(h, org, {
        url: receiver.url('/done'),
        events: ['ticket.created'],
      });
      const keep = await createWebhook(h, org, {
        url: receiver.url('/keep'),
        events: ['ticket.created'],
        retryPolicy: [604_800],
      });
      await createTicket(h, org);
      await testWorker(h).runOnce();
      const [finished] = await deliveriesOf(h, done.id);
      expect(finished!.status).toBe('succeeded');
      h.clock.advance(29 * 86_400_000);
      await pruneOnce(h.db, h.clock, 30);
      expect(await deliveriesOf(h, done.id)).toHaveLength(1);
      h.clock.advance(2 * 86_400_000);
      expect(await pruneOnce(h.db, h.clock, 30)).toBeGreaterThanOrEqual(1);
      expect(await deliveriesOf(h, done.id)).toEqual([]);
      const attempts = await h.db
        .selectFrom('delivery_attempts')
        .select('id')
        .where('delivery_id', '=', finished!.id)
        .execute();
      expect(attempts).toEqual([]);
      expect((await deliveriesOf(h, keep.id))[0]!.status).toBe('pending');
    });
  },
  ENV,
);
