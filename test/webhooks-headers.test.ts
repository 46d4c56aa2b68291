/**
 * Custom header values are secrets (a receiver's `Authorization`): the API
 * shows every name with a mask, takes the mask back as "keep this value", and
 * deliveries still carry the real values. Ticket and survey webhooks alike.
 */
import { expect, it } from 'vitest';
import { MASKED_HEADER_VALUE as MASK } from '../src/webhooks/headers.js';
import { forEachDialect, type Harness, type Org } from './support/harness.js';
import { CA_FILE, useReceiver } from './support/receiver.js';
import { countWebhooks, createHook, createSurvey, webhookApi } from './support/webhooks.js';

const ENV = {
  HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
  HOOKDESK_EGRESS_CA_FILE: CA_FILE,
  HOOKDESK_DELIVERY_TIMEOUT_MS: '1500',
};
const BEARER = 'Bearer rcv-0123456789-secret-token';
const TENANT = 'tenant-acme-7f3a';

forEachDialect(
  'webhook custom header values',
  (h) => {
    const receiver = useReceiver();

    async function apis(org: Org) {
      const surveyId = await createSurvey(h, org);
      return [webhookApi(h, org), webhookApi(h, org, `/api/surveys/${surveyId}/webhooks`)];
    }

    it('never returns a header value, only its name with the mask', async () => {
      const org = await h.createOrg();
      for (const api of await apis(org)) {
        const created = await api.create({
          ...(api.survey ? {} : { events: ['ticket.created'] }),
          name: 'Masked',
          url: 'https://hooks.example.com/x',
          headers: { Authorization: BEARER, 'X-Tenant': TENANT },
        });
        expect(created.statusCode, created.body).toBe(201);
        const hook = created.json();
        expect(hook.headers).toEqual({ Authorization: MASK, 'X-Tenant': MASK });
        const renamed = await api.patch(hook.id, { name: 'Renamed' });
        for (const res of [created, renamed, await api.get(hook.id), await api.list()]) {
          expect(res.statusCode).toBeLessThan(300);
          expect(res.body).not.toContain('rcv-0123456789');
          expect(res.body).not.toContain(TENANT);
        }
        expect(await storedHeaders(h, hook.id)).toEqual({
          Authorization: BEARER,
          'X-Tenant': TENANT,
        });
      }
    });

    it('keeps the stored value for a masked one, by name in any case; the set still replaces', async () => {
      const org = await h.createOrg();
      for (const api of await apis(org)) {
        const hook = await createHook(api, { headers: { Authorization: BEARER, 'X-Tenant': 'a' } });
        // What a client read, sent back with one value changed and one header added.
        const edited = await api.patch(hook.id, {
          headers: { ...hook.headers, 'X-Tenant': 'b', 'X-New': '1' },
        });
        expect(edited.statusCode, edited.body).toBe(200);
        expect(edited.json().headers).toEqual({
          Authorization: MASK,
          'X-Tenant': MASK,
          'X-New': MASK,
        });
        expect(await storedHeaders(h, hook.id)).toEqual({
          Authorization: BEARER,
          'X-Tenant': 'b',
          'X-New': '1',
        });
        // Names compare case-insensitively; headers left out are removed.
        const narrowed = await api.patch(hook.id, { headers: { AUTHORIZATION: MASK } });
        expect(narrowed.statusCode, narrowed.body).toBe(200);
        expect(await storedHeaders(h, hook.id)).toEqual({ AUTHORIZATION: BEARER });
      }
    });

    it('refuses a mask with no stored value to keep, naming the header, and changes nothing', async () => {
      const org = await h.createOrg();
      for (const api of await apis(org)) {
        const hook = await createHook(api, { headers: { Authorization: BEARER } });
        const before = await countWebhooks(h, org.organizationId);
        const patch = await api.patch(hook.id, {
          name: 'Not saved',
          headers: { Authorization: MASK, 'X-Other': MASK },
        });
        expect(patch.statusCode).toBe(400);
        expect(patch.json().error.code).toBe('validation_failed');
        expect(patch.json().error.details).toEqual([
          { field: 'headers.X-Other', message: expect.any(String), in: 'body' },
        ]);
        expect((await api.get(hook.id)).json()).toEqual(hook);
        expect(await storedHeaders(h, hook.id)).toEqual({ Authorization: BEARER });

        const create = await api.create({
          ...(api.survey ? {} : { events: ['ticket.created'] }),
          name: 'Copy',
          url: 'https://hooks.example.com/x',
          headers: { Authorization: MASK },
        });
        expect(create.statusCode).toBe(400);
        expect(create.json().error.details.map((d: { field: string }) => d.field)).toEqual([
          'headers.Authorization',
        ]);
        expect(await countWebhooks(h, org.organizationId)).toBe(before);
      }
    });

    it('sends the real values after the masked ones were sent back', async () => {
      receiver.respond = () => ({ status: 200, body: 'ok' });
      const org = await h.createOrg();
      for (const api of await apis(org)) {
        const hook = await createHook(api, {
          url: receiver.url('/masked'),
          headers: { Authorization: BEARER },
        });
        await api.patch(hook.id, { headers: { ...hook.headers, 'X-Tenant': TENANT } });
        const before = receiver.received.length;
        const test = await h.request({
          method: 'POST',
          url: `${api.base}/${hook.id}/test`,
          key: org.apiKey,
        });
        expect(test.statusCode, test.body).toBe(200);
        const sent = receiver.received.slice(before);
        expect(sent).toHaveLength(1);
        expect(sent[0]!.headers.authorization).toBe(BEARER);
        expect(sent[0]!.headers['x-tenant']).toBe(TENANT);
      }
    });
  },
  ENV,
);

async function storedHeaders(h: Harness, id: string): Promise<Record<string, string>> {
  const row = await h.db
    .selectFrom('webhooks')
    .select('headers')
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return JSON.parse(row.headers) as Record<string, string>;
}
