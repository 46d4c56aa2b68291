import { generateKeyPairSync } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { buildApp } from '../src/cli/app.js';
import { pino } from 'pino';
import { REDACT_PATHS } from '../src/logger.js';
import { forEachDialect, type Harness, type Org } from './support/harness.js';
import { CHANNEL_ENV, TWILIO_SMS as TWILIO, createChannel, pathOf } from './support/channels.js';

const SENDGRID_KEY = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .publicKey.export({ type: 'spki', format: 'der' })
  .toString('base64');

/** One valid create body per type, with the secrets each must never show again. */
const BODIES: { body: Record<string, any>; secrets: string[]; urls: string[] }[] = [
  { body: TWILIO, secrets: ['twilio-auth-token-secret-0001'], urls: ['inbound', 'status'] },
  {
    body: {
      ...TWILIO,
      type: 'twilio_whatsapp',
      credentials: { ...TWILIO.credentials, phoneNumber: 'whatsapp:+14155238886' },
    },
    secrets: ['twilio-auth-token-secret-0001'],
    urls: ['inbound', 'status'],
  },
  {
    body: {
      type: 'sendgrid',
      name: 'SG',
      credentials: {
        eventWebhookPublicKey: SENDGRID_KEY,
        inboundParseToken: 'sendgrid-parse-secret-0002',
      },
    },
    secrets: ['sendgrid-parse-secret-0002'],
    urls: ['events', 'inbound'],
  },
  {
    body: {
      type: 'meta_whatsapp',
      name: 'WA',
      credentials: {
        appSecret: 'meta-app-secret-0003',
        verifyToken: 'meta-verify-secret-0004',
        phoneNumberId: '106540352242922',
      },
    },
    secrets: ['meta-app-secret-0003', 'meta-verify-secret-0004'],
    urls: ['webhook'],
  },
  {
    body: {
      type: 'mailgun',
      name: 'MG',
      credentials: { signingKey: 'mailgun-signing-secret-0005' },
    },
    secrets: ['mailgun-signing-secret-0005'],
    urls: ['inbound', 'events'],
  },
  { body: { type: 'postmark', name: 'PM' }, secrets: [], urls: ['inbound', 'events'] },
];

function api(h: Harness, org: Org) {
  return (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    h.request({ method, url, key: org.apiKey, ...(payload ? { payload } : {}) });
}

function fields(res: { json: () => any }): string[] {
  return res
    .json()
    .error.details.map((d: { field: string }) => d.field)
    .sort();
}

forEachDialect(
  'channels API',
  (h) => {
    it('creates every type with its config and callback URLs, never echoing a secret', async () => {
      const org = await h.createOrg();
      for (const { body, secrets, urls } of BODIES) {
        const res = await api(h, org)('POST', '/api/channels', body);
        expect(res.statusCode, res.body).toBe(201);
        const channel = res.json();
        expect(Object.keys(channel).sort()).toEqual([
          'callbackUrls',
          'config',
          'createdAt',
          'id',
          'name',
          'type',
        ]);
        expect(Object.keys(channel.callbackUrls).sort()).toEqual([...urls].sort());
        for (const url of Object.values<string>(channel.callbackUrls)) {
          expect(url).toMatch(
            /^https:\/\/([\w-]+:[\w-]+@)?hooks\.example\.test\/api\/rpc\/channels\/[\w-]{24}\//,
          );
          expect(url).not.toContain(channel.id);
        }
        for (const secret of secrets) {
          expect(JSON.stringify(channel.config)).not.toContain(secret);
          const read = await api(h, org)('GET', `/api/channels/${channel.id}`);
          expect(read.body).not.toContain(secret);
          const list = await api(h, org)('GET', '/api/channels');
          expect(list.body).not.toContain(secret);
        }
      }
      const list = await api(h, org)('GET', '/api/channels?type=twilio_sms');
      expect(list.json().data).toHaveLength(1);
      expect(list.json().data[0].config).toEqual({
        accountSid: TWILIO.credentials.accountSid,
        phoneNumber: '+14155550100',
      });
    });

    it('stores credentials encrypted: the row never holds a secret in clear', async () => {
      const org = await h.createOrg();
      for (const { body, secrets } of BODIES) {
        const channel = await createChannel(h, org, body);
        const row = await h.db
          .selectFrom('channels')
          .selectAll()
          .where('id', '=', channel.id)
          .executeTakeFirstOrThrow();
        expect(row.credentials).toMatch(/^v1\./);
        for (const secret of secrets) expect(JSON.stringify(row)).not.toContain(secret);
      }
    });

    it('validates the type’s credentials, listing every problem', async () => {
      const org = await h.createOrg();
      const call = api(h, org);
      const missing = await call('POST', '/api/channels', {
        type: 'twilio_sms',
        name: 'x',
        credentials: {},
      });
      expect(missing.statusCode).toBe(400);
      expect(fields(missing)).toEqual([
        'credentials.accountSid',
        'credentials.authToken',
        'credentials.phoneNumber',
      ]);
      const bad = await call('POST', '/api/channels', {
        type: 'twilio_sms',
        name: 'x',
        credentials: { accountSid: 'nope', authToken: 't', phoneNumber: 'abc', extra: '1' },
      });
      expect(fields(bad)).toEqual([
        'credentials.accountSid',
        'credentials.extra',
        'credentials.phoneNumber',
      ]);
      const key = await call('POST', '/api/channels', {
        type: 'sendgrid',
        name: 'x',
        credentials: { eventWebhookPublicKey: 'bm90IGEga2V5' },
      });
      expect(fields(key)).toEqual(['credentials.eventWebhookPublicKey']);
      const postmark = await call('POST', '/api/channels', {
        type: 'postmark',
        name: 'x',
        credentials: { basicAuthUser: 'me' },
      });
      expect(fields(postmark)).toEqual(['credentials.basicAuthUser']);
      const type = await call('POST', '/api/channels', { type: 'telegram', name: 'x' });
      expect(type.statusCode).toBe(400);
      expect(type.json().error.code).toBe('validation_failed');
      const unknown = await call('POST', '/api/channels', { ...TWILIO, secret: 'x' });
      expect(fields(unknown)).toEqual(['secret']);
      expect(
        (
          await h.db
            .selectFrom('channels')
            .select('id')
            .where('organization_id', '=', org.organizationId)
            .execute()
        ).length,
      ).toBe(0);
    });

    it('updates the name and rotates or removes credentials', async () => {
      const org = await h.createOrg();
      const call = api(h, org);
      const sg = await createChannel(h, org, BODIES[2]!.body);
      const renamed = await call('PATCH', `/api/channels/${sg.id}`, { name: 'Renamed' });
      expect(renamed.statusCode).toBe(200);
      expect(renamed.json()).toMatchObject({
        name: 'Renamed',
        config: { hasInboundParseToken: true },
      });
      expect(renamed.json().callbackUrls.inbound).not.toContain('token=');
      const removed = await call('PATCH', `/api/channels/${sg.id}`, {
        credentials: { inboundParseToken: null },
      });
      expect(removed.json().config.hasInboundParseToken).toBe(false);
      const rotated = await call('PATCH', `/api/channels/${sg.id}`, {
        credentials: { inboundParseToken: 'a-new-parse-token-0006' },
      });
      expect(rotated.json().callbackUrls.inbound).toContain('?token=a-new-parse-token-0006');
      expect((await call('GET', `/api/channels/${sg.id}`)).body).not.toContain(
        'a-new-parse-token-0006',
      );
      const required = await call('PATCH', `/api/channels/${sg.id}`, {
        credentials: { eventWebhookPublicKey: null },
      });
      expect(fields(required)).toEqual(['credentials.eventWebhookPublicKey']);
      // The callback URLs survive every edit: the provider console keeps working.
      expect(pathOf(rotated.json().callbackUrls.events)).toBe(pathOf(sg.callbackUrls.events!));
    });

    it('answers 404 for another organization’s channel, and 403 to agents', async () => {
      const org = await h.createOrg();
      const other = await h.createOrg();
      const channel = await createChannel(h, org, TWILIO);
      for (const [method, payload] of [['GET'], ['PATCH', { name: 'x' }], ['DELETE']] as const) {
        const res = await api(h, other)(method, `/api/channels/${channel.id}`, payload);
        expect(res.statusCode, method).toBe(404);
      }
      expect((await api(h, other)('GET', '/api/channels')).json().data).toEqual([]);
      const agent = await api(h, org)('POST', '/api/users', {
        email: 'agent@example.com',
        name: 'Agent',
        role: 'agent',
      });
      const key = await api(h, org)('POST', '/api/api-keys', {
        name: 'agent',
        userId: agent.json().id,
      });
      const agentKey = key.json().key as string;
      expect(
        (await h.request({ method: 'GET', url: '/api/channels', key: agentKey })).statusCode,
      ).toBe(403);
    });

    it('deletes a channel: its callbacks answer 404 afterwards', async () => {
      const org = await h.createOrg();
      const channel = await createChannel(h, org, BODIES[4]!.body);
      expect((await api(h, org)('DELETE', `/api/channels/${channel.id}`)).statusCode).toBe(204);
      expect((await api(h, org)('GET', `/api/channels/${channel.id}`)).statusCode).toBe(404);
      expect((await api(h, org)('DELETE', `/api/channels/${channel.id}`)).statusCode).toBe(404);
      const res = await h.request({
        method: 'POST',
        url: pathOf(channel.callbackUrls.events!),
        headers: { 'content-type': 'application/json' },
        payload: '{}',
      });
      expect(res.statusCode).toBe(404);
    });

    it('never logs a secret, even one sent in a callback URL', async () => {
      const lines: string[] = [];
      const stream = new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      });
      const app = await buildApp({
        config: h.config,
        database: h.database,
        clock: h.clock,
        // createLogger's settings, at trace level, into a stream this test reads.
        logger: pino(
          { level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
          stream,
        ),
        delivery: h.delivery,
        metrics: h.metrics,
      });
      try {
        const org = await h.createOrg();
        const secrets: string[] = [];
        for (const { body, secrets: s } of BODIES) {
          secrets.push(...s);
          const res = await app.inject({
            method: 'POST',
            url: '/api/channels',
            headers: org.headers,
            payload: body,
          });
          expect(res.statusCode).toBe(201);
          for (const url of Object.values<string>(res.json().callbackUrls)) {
            await app.inject({
              method: 'POST',
              url: pathOf(url),
              headers: { 'content-type': 'application/json' },
              payload: '{}',
            });
          }
        }
        const meta = await app.inject({
          method: 'GET',
          url: '/api/channels?type=meta_whatsapp',
          headers: org.headers,
        });
        const hook = pathOf(meta.json().data[0].callbackUrls.webhook);
        await app.inject({
          method: 'GET',
          url: `${hook}?hub.mode=subscribe&hub.verify_token=meta-verify-secret-0004&hub.challenge=1`,
        });
        const log = lines.join('');
        expect(log).toContain('incoming request');
        for (const secret of secrets) expect(log).not.toContain(secret);
      } finally {
        await app.close();
      }
    });
  },
  CHANNEL_ENV,
);

forEachDialect(
  'channels without HOOKDESK_ENCRYPTION_KEY',
  (h) => {
    it('uses a key file beside a SQLite database; refuses on PostgreSQL with 409', async () => {
      const org = await h.createOrg();
      const res = await api(h, org)('POST', '/api/channels', TWILIO);
      if (h.database.localFile === undefined) {
        expect(res.statusCode).toBe(409);
        expect(res.json().error.code).toBe('conflict');
        expect(res.json().error.message).toContain('HOOKDESK_ENCRYPTION_KEY');
        return;
      }
      expect(res.statusCode, res.body).toBe(201);
      const keyFile = `${h.database.localFile}.key`;
      expect(existsSync(keyFile)).toBe(true);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(res.json().callbackUrls.inbound.startsWith('http://localhost:3000/')).toBe(true);
    });
  },
  { HOOKDESK_PUBLIC_URL: 'http://localhost:3000' },
);
