/**
 * Signed by default (docs/api.md, webhook fields, `secret`): a create without
 * `secret` gets a generated `whsec_` secret, answered once in the 201 and
 * never again; `secret: null` makes an unsigned webhook on purpose. Deliveries
 * go to a real HTTPS receiver on loopback and are checked with the
 * third-party `standardwebhooks` verifier.
 */
import { Webhook } from 'standardwebhooks';
import { expect, it } from 'vitest';
import { verifyWebhookSignature } from '../src/index.js';
import { whsecProblem } from '../src/webhooks/secrets.js';
import { forEachDialect, type Harness, type Org } from './support/harness.js';
import { CA_FILE, useReceiver, type Receiver } from './support/receiver.js';
import {
  SURVEY_HOOK,
  TICKET_HOOK,
  createSurvey,
  createTicket,
  createWebhook,
  webhookApi,
} from './support/webhooks.js';
import { testWorker } from './support/worker.js';

const ENV = { HOOKDESK_EGRESS_ALLOW: '127.0.0.1', HOOKDESK_EGRESS_CA_FILE: CA_FILE };
const WHSEC_32 = /^whsec_[A-Za-z0-9+/]{43}=$/;

/** One ticket event and one worker pass; the one request received at `path`. */
async function deliverOnce(h: Harness, org: Org, receiver: Receiver, path: string) {
  const before = receiver.received.length;
  await createTicket(h, org);
  expect(await testWorker(h).runOnce()).toBe(1);
  const got = receiver.received.slice(before);
  expect(got.map((r) => r.path)).toEqual([path]);
  return got[0]!;
}

forEachDialect(
  'webhooks signed by default',
  (h) => {
    const receiver = useReceiver();

    it('a create without secret answers a generated whsec_ secret once, which signs', async () => {
      receiver.respond = () => ({ status: 200 });
      const org = await h.createOrg();
      const created = await createWebhook(h, org, { url: receiver.url('/signed') });
      expect(created.hasSecret).toBe(true);
      expect(created.secret).toMatch(WHSEC_32);
      expect(whsecProblem(created.secret)).toBeNull();
      // Stored as answered.
      const row = await h.db
        .selectFrom('webhooks')
        .select('secret')
        .where('id', '=', created.id)
        .executeTakeFirstOrThrow();
      expect(row.secret).toBe(created.secret);

      // Never shown again: not by GET, nor the list.
      const hooks = webhookApi(h, org);
      const got = (await hooks.get(created.id)).json();
      expect(got.hasSecret).toBe(true);
      expect(got).not.toHaveProperty('secret');
      const list = (await hooks.list()).json();
      expect(list.data[0]).not.toHaveProperty('secret');
      expect(JSON.stringify(list)).not.toContain(created.secret.slice('whsec_'.length));

      const req = await deliverOnce(h, org, receiver, '/signed');
      const payload = new Webhook(created.secret).verify(
        req.body,
        req.headers as Record<string, string>,
      ) as Record<string, unknown>;
      expect(payload).toMatchObject({ eventType: 'ticket.created' });
      expect(
        verifyWebhookSignature(
          created.secret,
          req.body,
          String(req.headers['x-webhook-signature']),
        ),
      ).toBe(true);
    });

    it('each generated secret is new', async () => {
      const org = await h.createOrg();
      const hooks = webhookApi(h, org);
      const a = (await hooks.create({ ...TICKET_HOOK })).json();
      const b = (await hooks.create({ ...TICKET_HOOK, name: 'Other' })).json();
      expect(a.secret).toMatch(WHSEC_32);
      expect(b.secret).toMatch(WHSEC_32);
      expect(a.secret).not.toBe(b.secret);
    });

    it('a given secret is not echoed back', async () => {
      const org = await h.createOrg();
      const res = await webhookApi(h, org).create({
        ...TICKET_HOOK,
        secret: 'my-own-secret-0123456789',
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().hasSecret).toBe(true);
      expect(res.json()).not.toHaveProperty('secret');
    });

    it('secret: null makes an unsigned webhook: no signature headers', async () => {
      receiver.respond = () => ({ status: 200 });
      const org = await h.createOrg();
      const created = await createWebhook(h, org, { url: receiver.url('/unsigned'), secret: null });
      expect(created.hasSecret).toBe(false);
      expect(created).not.toHaveProperty('secret');
      const req = await deliverOnce(h, org, receiver, '/unsigned');
      expect(req.headers['x-webhook-signature']).toBeUndefined();
      expect(req.headers['webhook-signature']).toBeUndefined();
    });

    it('a survey webhook is signed by default too, and unsigned with secret: null', async () => {
      const org = await h.createOrg();
      const surveyId = await createSurvey(h, org);
      const hooks = webhookApi(h, org, `/api/surveys/${surveyId}/webhooks`);
      const res = await hooks.create({ ...SURVEY_HOOK });
      expect(res.statusCode, res.body).toBe(201);
      const created = res.json();
      expect(created.hasSecret).toBe(true);
      expect(created.secret).toMatch(WHSEC_32);
      const got = (await hooks.get(created.id)).json();
      expect(got.hasSecret).toBe(true);
      expect(got).not.toHaveProperty('secret');

      const plain = await hooks.create({ ...SURVEY_HOOK, name: 'Plain', secret: null });
      expect(plain.statusCode, plain.body).toBe(201);
      expect(plain.json().hasSecret).toBe(false);
      expect(plain.json()).not.toHaveProperty('secret');
    });
  },
  ENV,
);
