/**
 * `GET /api/meta`: the console builds its forms from this answer, so it must
 * be the server's own constants, and they must be what the server does.
 */
import { generateKeyPairSync } from 'node:crypto';
import { expect, it } from 'vitest';
import { CHANNEL_SPECS, CHANNEL_TYPES } from '../src/channels/channel-types.js';
import { DELIVERY_STATUSES } from '../src/delivery/dto.js';
import { DISABLE_AFTER_CONSECUTIVE_FAILURES } from '../src/delivery/policy.js';
import { TEST_EVENT_TYPE } from '../src/delivery/queue/commands.js';
import { DELIVERY_HEADERS, RESPONSE_BODY_LIMIT, buildHeaders } from '../src/delivery/sender.js';
import { TICKET_PRIORITIES } from '../src/tickets/tickets.schemas.js';
import { VERSION } from '../src/version.js';
import { RESERVED_HEADERS } from '../src/webhooks/headers.js';
import { DEFAULT_RETRY_POLICY, DEFAULT_SURVEY_EVENTS } from '../src/webhooks/webhooks.input.js';
import {
  MAX_HEADERS,
  MAX_RETRIES,
  MAX_RETRY_DELAY_S,
  MIN_RETRY_DELAY_S,
} from '../src/webhooks/webhooks.schemas.js';
import { CHANNEL_ENV, createChannel } from './support/channels.js';
import { forEachDialect } from './support/harness.js';
import { TICKET_HOOK, agentKey, createHook, webhookApi } from './support/webhooks.js';

forEachDialect(
  'GET /api/meta',
  (h) => {
    const meta = async (key?: string) => h.request({ method: 'GET', url: '/api/meta', key });

    it('answers 401 without a key or with an unknown one', async () => {
      for (const key of [undefined, 'hdk_not_a_real_key_0000000000000']) {
        const res = await meta(key);
        expect(res.statusCode).toBe(401);
        expect(res.json().error.code).toBe('unauthorized');
      }
    });

    it('lists each channel type with the fields and callbacks the server checks and builds', async () => {
      const org = await h.createOrg();
      const res = await meta(org.apiKey);
      expect(res.statusCode, res.body).toBe(200);
      const types = res.json().channelTypes as any[];
      expect(types.map((t) => t.type)).toEqual([...CHANNEL_TYPES]);
      for (const t of types) {
        const spec = CHANNEL_SPECS[t.type as (typeof CHANNEL_TYPES)[number]];
        expect(t.label).toBe(spec.label);
        expect(t.fields).toEqual(
          spec.fields.map((f) => ({
            name: f.name,
            label: f.label,
            help: f.help,
            secret: f.secret,
            optional: f.optional ?? false,
            multiline: f.multiline ?? false,
            setFlag: f.secret && f.optional ? expect.any(String) : null,
          })),
        );
        expect(Object.keys(t.callbacks)).toEqual(Object.keys(spec.callbacks));
        expect(t.generatesBasicAuth).toBe(spec.generate !== undefined);
      }
      // What the flag and the token name is what a channel's answer holds.
      const sendgrid = types.find((t) => t.type === 'sendgrid');
      expect(sendgrid.callbacks.inbound.token).toBe('inboundParseToken');
      const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        .publicKey.export({ type: 'spki', format: 'der' })
        .toString('base64');
      const channel = await createChannel(h, org, {
        type: 'sendgrid',
        credentials: { eventWebhookPublicKey: key, inboundParseToken: 'meta-parse-token-0001' },
      });
      const flag = sendgrid.fields.find((f: any) => f.name === 'inboundParseToken').setFlag;
      expect(channel.config[flag]).toBe(true);
      expect(new URL(channel.callbackUrls.inbound!).searchParams.get('token')).toBe(
        'meta-parse-token-0001',
      );
      expect(Object.keys(channel.callbackUrls)).toEqual(Object.keys(sendgrid.callbacks));
    });

    it('gives the webhook defaults and limits the API applies', async () => {
      const org = await h.createOrg();
      const body = (await meta(org.apiKey)).json();
      expect(body.webhooks).toEqual({
        retryPolicy: {
          default: [...DEFAULT_RETRY_POLICY],
          maxRetries: MAX_RETRIES,
          minDelaySeconds: MIN_RETRY_DELAY_S,
          maxDelaySeconds: MAX_RETRY_DELAY_S,
        },
        customHeaders: { max: MAX_HEADERS, refused: [...RESERVED_HEADERS] },
        defaultSurveyEvents: [...DEFAULT_SURVEY_EVENTS],
        disableAfterConsecutiveFailures: DISABLE_AFTER_CONSECUTIVE_FAILURES,
      });
      expect(body.ticketPriorities).toEqual([...TICKET_PRIORITIES]);
      const api = webhookApi(h, org);
      expect((await createHook(api)).retryPolicy).toEqual(body.webhooks.retryPolicy.default);
      // Every refused name is refused, in any case.
      const refused = await api.create({
        ...TICKET_HOOK,
        headers: Object.fromEntries(
          body.webhooks.customHeaders.refused.map((n: string) => [n.toUpperCase(), 'x']),
        ),
      });
      expect(refused.statusCode).toBe(400);
      expect(refused.json().error.details).toHaveLength(body.webhooks.customHeaders.refused.length);
    });

    it('gives the delivery statuses and the request headers as sent', async () => {
      const org = await h.createOrg();
      const { deliveries } = (await meta(org.apiKey)).json();
      expect(deliveries.statuses).toEqual([...DELIVERY_STATUSES]);
      expect(deliveries.testEventType).toBe(TEST_EVENT_TYPE);
      expect(deliveries.responseBodyLimitBytes).toBe(RESPONSE_BODY_LIMIT);
      expect(deliveries.requestHeaders.map((r: any) => r.name)).toEqual(
        DELIVERY_HEADERS.map((d) => d.name),
      );
      expect(deliveries.requestHeaders).toContainEqual({
        name: 'User-Agent',
        value: `Hookdesk/${VERSION}`,
        from: null,
      });
      const sent = buildHeaders(
        {
          url: 'https://hooks.example.com/',
          deliveryId: 'd-1',
          eventType: 'ticket.created',
          body: '{}',
          secrets: ['meta-test-secret-0123456789'],
          customHeaders: { 'X-Team': 'support' },
        },
        Date.UTC(2026, 0, 15, 10, 30, 0, 999),
      );
      expect(Object.keys(sent)).toEqual([
        'X-Team',
        ...deliveries.requestHeaders.map((r: any) => r.name.toLowerCase()),
      ]);
      for (const r of deliveries.requestHeaders) {
        if (r.value !== null) expect(sent[r.name.toLowerCase()]).toBe(r.value);
      }
      expect(sent['x-webhook-event']).toBe('ticket.created');
      expect(sent['x-webhook-delivery']).toBe('d-1');
      expect(sent['webhook-id']).toBe('d-1');
      expect(sent['webhook-timestamp']).toBe(String(Date.UTC(2026, 0, 15, 10, 30, 0) / 1000));
      expect(sent['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    });

    it('is readable with an agent key too, and documented in the OpenAPI document', async () => {
      const org = await h.createOrg();
      const res = await meta(await agentKey(h, org));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual((await meta(org.apiKey)).json());
      const doc = (await h.request({ method: 'GET', url: '/openapi.json' })).json();
      const get = doc.paths['/api/meta'].get;
      const schema = get.responses['200'].content['application/json'].schema;
      expect(Object.keys(schema.properties)).toEqual(Object.keys(res.json()));
      expect(get.responses['401']).toBeDefined();
    });
  },
  CHANNEL_ENV,
);
