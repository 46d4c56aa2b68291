/**
 * `webhook.disabled` (docs/webhooks.md, "Payloads"; docs/api.md, "Events"):
 * when the worker disables a webhook, ticket or survey, after a `410 Gone`
 * or ten failures in a row, the organization's ticket webhooks subscribed to
 * it receive the event, by the real worker over HTTPS on loopback. Survey
 * webhooks cannot subscribe to it, and disabling by hand raises nothing.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { expect, it } from 'vitest';
import { iso } from '../src/clock.js';
import { EVENT_CATALOGUE } from '../src/webhooks/event-catalogue.js';
import type { Harness, Org } from './support/harness.js';
import { forEachDialect } from './support/harness.js';
import { CA_FILE, useReceiver, type Receiver } from './support/receiver.js';
import {
  attemptsOf,
  createSurvey,
  createTicket,
  createWebhook,
  deliveriesOf,
  emitTicketEvents,
  problemFields,
  webhookApi,
} from './support/webhooks.js';
import { testWorker } from './support/worker.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ENV = {
  HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
  HOOKDESK_EGRESS_CA_FILE: CA_FILE,
  HOOKDESK_DELIVERY_TIMEOUT_MS: '1500',
};

const dataSchema = EVENT_CATALOGUE.find((e) => e.type === 'webhook.disabled')!.schema;
const validData = addFormats(new Ajv({ strict: false })).compile(dataSchema);

/** Runs the worker until nothing is due. */
async function drain(h: Harness): Promise<void> {
  const worker = testWorker(h, { concurrency: 1, perWebhook: 1 });
  for (let i = 0; i < 40 && (await worker.runOnce()) > 0; i++);
}

/** The bodies the receiver got on `path`, parsed. */
function bodies(receiver: Receiver, path: string): any[] {
  return receiver.received
    .filter((r) => r.path === path)
    .map((r) => JSON.parse(r.body.toString('utf8')));
}

/** A ticket webhook of the organization that subscribes to `webhook.disabled` only. */
function watcher(h: Harness, org: Org, url: string, extra: Record<string, unknown> = {}) {
  return createWebhook(h, org, { name: 'watcher', url, events: ['webhook.disabled'], ...extra });
}

/** The organization's `webhook.disabled` events, oldest first. */
function disabledEvents(h: Harness, organizationId: string) {
  return h.db
    .selectFrom('events')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('type', '=', 'webhook.disabled')
    .orderBy('id')
    .execute();
}

/** A loopback port nothing listens on: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

forEachDialect(
  'webhook.disabled event',
  (h) => {
    const receiver = useReceiver();

    it('a 410 disables the webhook and its organization’s subscribed ticket webhooks get the event', async () => {
      receiver.respond = (r) => (r.path === '/d/gone' ? { status: 410 } : { status: 204 });
      const org = await h.createOrg();
      const gone = await createWebhook(h, org, {
        name: 'Gone hook',
        url: receiver.url('/d/gone'),
        events: ['ticket.created', 'webhook.disabled'],
      });
      // Ordered: the event still has no order key (it is about no ticket).
      const watch = await watcher(h, org, receiver.url('/d/watch'), { ordering: 'ticket' });
      const other = await createWebhook(h, org, { url: receiver.url('/d/other') });
      const elsewhere = await h.createOrg();
      const foreign = await watcher(h, elsewhere, receiver.url('/d/foreign'));
      await createTicket(h, org);
      await drain(h);

      const [event] = await disabledEvents(h, org.organizationId);
      expect(event).toMatchObject({ ticket_id: null, survey_id: null });
      const got = bodies(receiver, '/d/watch');
      expect(got).toHaveLength(1);
      const body = got[0];
      expect(Object.keys(body)).toEqual([
        'organizationId',
        'eventType',
        'eventId',
        'timestamp',
        'data',
      ]);
      expect(body).toEqual({
        organizationId: org.organizationId,
        eventType: 'webhook.disabled',
        eventId: event!.id,
        timestamp: iso(h.clock.now()),
        data: {
          webhook: { id: gone.id, name: 'Gone hook', url: receiver.url('/d/gone'), surveyId: null },
          reason: 'gone',
          lastError: { statusCode: 410, code: null, message: null },
        },
      });
      expect(validData(body.data), JSON.stringify(validData.errors)).toBe(true);
      // The bytes sent are the stored event's.
      expect(receiver.received.find((r) => r.path === '/d/watch')!.body.toString('utf8')).toBe(
        event!.payload,
      );
      const [delivery] = await deliveriesOf(h, watch.id);
      expect(delivery).toMatchObject({
        event_type: 'webhook.disabled',
        status: 'succeeded',
        order_key: null,
      });
      // The disabled webhook, though subscribed, is inactive by then; others are not subscribed.
      expect((await deliveriesOf(h, gone.id)).map((d) => d.event_type)).toEqual(['ticket.created']);
      expect((await deliveriesOf(h, other.id)).map((d) => d.event_type)).toEqual([
        'ticket.created',
      ]);
      expect(await deliveriesOf(h, foreign.id)).toEqual([]);
      expect(await disabledEvents(h, elsewhere.organizationId)).toEqual([]);
    });

    it('ten failures in a row raise it with the last attempt’s error', async () => {
      const org = await h.createOrg();
      const url = `https://127.0.0.1:${await closedPort()}/refused`;
      const down = await createWebhook(h, org, { name: 'Down', url, retryPolicy: [] });
      await watcher(h, org, receiver.url('/d/watch-failures'));
      await emitTicketEvents(h, org.organizationId, 10, 'f');
      await drain(h);

      const failed = await deliveriesOf(h, down.id);
      expect(failed.map((d) => d.status)).toEqual(Array(10).fill('failed'));
      const attempts = (await Promise.all(failed.map((d) => attemptsOf(h, d.id)))).flat();
      const last = attempts.sort((a, b) => a.started_at - b.started_at || a.id.localeCompare(b.id))[
        attempts.length - 1
      ]!;
      expect(last.error_code).toBe('connect');
      const got = bodies(receiver, '/d/watch-failures');
      expect(got).toHaveLength(1);
      expect(got[0].data).toEqual({
        webhook: { id: down.id, name: 'Down', url, surveyId: null },
        reason: 'consecutive_failures',
        lastError: { statusCode: null, code: 'connect', message: last.error_message },
      });
      expect(typeof got[0].data.lastError.message).toBe('string');
      expect(validData(got[0].data)).toBe(true);
    });

    it('a disabled survey webhook raises it too, with its survey', async () => {
      receiver.respond = (r) => (r.path === '/d/survey-gone' ? { status: 410 } : { status: 204 });
      const org = await h.createOrg();
      const surveyId = await createSurvey(h, org);
      const surveyApi = webhookApi(h, org, `/api/surveys/${surveyId}/webhooks`);
      const created = await surveyApi.create({
        name: 'Survey hook',
        url: receiver.url('/d/survey-gone'),
      });
      expect(created.statusCode, created.body).toBe(201);
      const hook = created.json();
      await watcher(h, org, receiver.url('/d/watch-survey'));
      const res = await h.request({
        method: 'POST',
        url: `/api/surveys/${surveyId}/responses`,
        key: org.apiKey,
        payload: { answers: { score: { value: 4 } } },
      });
      expect(res.statusCode, res.body).toBe(201);
      await drain(h);

      const got = bodies(receiver, '/d/watch-survey');
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({
        organizationId: org.organizationId,
        eventType: 'webhook.disabled',
        data: {
          webhook: { id: hook.id, name: 'Survey hook', surveyId },
          reason: 'gone',
          lastError: { statusCode: 410, code: null, message: null },
        },
      });
      // An organization event: no survey on the event row, so survey webhooks never get it.
      const [event] = await disabledEvents(h, org.organizationId);
      expect(event).toMatchObject({ survey_id: null, ticket_id: null });
    });

    it('only ticket webhooks may subscribe to it', async () => {
      const org = await h.createOrg();
      const surveyId = await createSurvey(h, org);
      const surveyApi = webhookApi(h, org, `/api/surveys/${surveyId}/webhooks`);
      let res = await surveyApi.create({
        name: 'x',
        url: 'https://hooks.example.com/s',
        events: ['webhook.disabled'],
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(problemFields(res)).toEqual(['events[0]']);
      res = await surveyApi.create({ name: 'x', url: 'https://hooks.example.com/s' });
      const id = res.json().id as string;
      res = await surveyApi.patch(id, {
        events: ['survey.response_completed', 'webhook.disabled'],
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(problemFields(res)).toEqual(['events[1]']);
      expect((await surveyApi.get(id)).json().events).toEqual(['survey.response_completed']);
    });

    it('disabling by hand raises nothing', async () => {
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, { url: 'https://hooks.example.com/by-hand' });
      await watcher(h, org, 'https://hooks.example.com/watch');
      const res = await webhookApi(h, org).patch(hook.id, { active: false });
      expect(res.statusCode, res.body).toBe(200);
      expect(await disabledEvents(h, org.organizationId)).toEqual([]);
    });
  },
  ENV,
);
