/** The SSRF rules at create and update time (the egress module has its own exhaustive tests). */
import { expect, it } from 'vitest';
import { forEachDialect } from './support/harness.js';
import {
  SURVEY_HOOK,
  TICKET_HOOK,
  countWebhooks,
  createHook,
  createSurvey,
  problemFields,
  webhookApi,
} from './support/webhooks.js';

const REFUSED = [
  'http://hooks.example.com/in',
  'ftp://hooks.example.com/in',
  'https://localhost/in',
  'https://api.localhost/in',
  'https://10.0.0.1/in',
  'https://169.254.169.254/latest/meta-data/',
  'https://[::1]/in',
  'https://[::ffff:127.0.0.1]/in',
  'https://0x7f.1/in',
  'https://foo.internal./in',
  'https://db.svc/in',
  'https://printer.LOCAL/in',
  'https://user:pass@hooks.example.com/in',
];

forEachDialect('webhook URL egress rules', (h) => {
  it('refuses non-public or unsafe URLs at create, saying why', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    for (const url of REFUSED) {
      const res = await api.create({ ...TICKET_HOOK, url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
      expect(problemFields(res), url).toEqual(['url']);
      expect(res.json().error.details[0].message.length, url).toBeGreaterThan(5);
    }
    expect(await countWebhooks(h, org.organizationId)).toBe(0);
  });

  it('refuses them at update too, keeping the old URL', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    const hook = await createHook(api);
    for (const url of REFUSED) {
      const res = await api.patch(hook.id, { url });
      expect(res.statusCode, url).toBe(400);
      expect(problemFields(res), url).toEqual(['url']);
    }
    expect((await api.get(hook.id)).json()).toEqual(hook);
  });

  it('applies the same rules to survey webhooks', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org, `/api/surveys/${await createSurvey(h, org)}/webhooks`);
    const res = await api.create({ ...SURVEY_HOOK, url: 'https://169.254.169.254/' });
    expect(res.statusCode).toBe(400);
    expect(problemFields(res)).toEqual(['url']);
    const hook = await createHook(api);
    expect((await api.patch(hook.id, { url: 'https://[::1]/' })).statusCode).toBe(400);
  });

  it('accepts public https URLs and public IP literals', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    for (const url of ['https://hooks.example.com:8443/in?x=1', 'https://93.184.215.14/in']) {
      expect((await api.create({ ...TICKET_HOOK, url })).statusCode, url).toBe(201);
    }
  });
});

forEachDialect(
  'webhook URL egress allow list',
  (h) => {
    it('HOOKDESK_EGRESS_ALLOW exempts the listed host and network, nothing else', async () => {
      const org = await h.createOrg();
      const api = webhookApi(h, org);
      for (const url of ['https://hooks.internal/in', 'https://10.1.2.3/in']) {
        const res = await api.create({ ...TICKET_HOOK, url });
        expect(res.statusCode, url).toBe(201);
        expect(res.json().url).toBe(url);
      }
      const hook = await createHook(api);
      expect((await api.patch(hook.id, { url: 'https://10.1.9.9/x' })).statusCode).toBe(200);
      for (const url of [
        'https://other.internal/in',
        'https://10.2.0.1/in',
        'https://localhost/in',
        'http://hooks.internal/in',
      ]) {
        const res = await api.create({ ...TICKET_HOOK, url });
        expect(res.statusCode, url).toBe(400);
        expect(problemFields(res)).toEqual(['url']);
      }
    });
  },
  { HOOKDESK_EGRESS_ALLOW: 'hooks.internal,10.1.0.0/16' },
);

forEachDialect(
  'webhook URL egress with plain http allowed',
  (h) => {
    it('HOOKDESK_EGRESS_ALLOW_HTTP permits http:// but not private hosts', async () => {
      const org = await h.createOrg();
      const api = webhookApi(h, org);
      const ok = await api.create({ ...TICKET_HOOK, url: 'http://hooks.example.com/in' });
      expect(ok.statusCode).toBe(201);
      const local = await api.create({ ...TICKET_HOOK, url: 'http://127.0.0.1:8080/in' });
      expect(local.statusCode).toBe(400);
    });
  },
  { HOOKDESK_EGRESS_ALLOW_HTTP: 'true' },
);
