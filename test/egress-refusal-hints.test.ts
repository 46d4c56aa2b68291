/**
 * Every refusal the operator can lift ends with the setting and the exact
 * entry that lifts it, and following that hint really lets the same
 * destination through: each suggested entry is read back out of the message,
 * parsed by the real allow-list parser (or the real config loader), and the
 * same URL or host is checked again under the widened policy.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/cli/app.js';
import { loadConfig } from '../src/config.js';
import { createDeliveryContext } from '../src/delivery/context.js';
import {
  BlockedDestinationError,
  checkWebhookUrl,
  createEgressPolicy,
  parseAllowList,
  type EgressPolicy,
  type Resolver,
} from '../src/egress/index.js';
import { guardedLookupForPort } from '../src/egress/lookup.js';
import { createLogger } from '../src/logger.js';
import { forEachDialect, type Org } from './support/harness.js';
import { CA_FILE, useReceiver } from './support/receiver.js';
import { TICKET_HOOK, createSurvey } from './support/webhooks.js';

const ALLOW_LIST_HINT =
  / The server's operator can allow this destination by adding (\S+) to HOOKDESK_EGRESS_ALLOW\.$/;
const HTTP_HINT =
  / The server's operator can allow it with (HOOKDESK_EGRESS_ALLOW_HTTP)=(true) \(development only\)(?: and by adding (\S+) to HOOKDESK_EGRESS_ALLOW)?\.$/;

/** What a message tells the operator to set, read back out of its text. */
interface Hint {
  allowHttp: boolean;
  entry: string | undefined;
}

function hintOf(message: string): Hint | undefined {
  const http = HTTP_HINT.exec(message);
  if (http) return { allowHttp: true, entry: http[3] };
  const list = ALLOW_LIST_HINT.exec(message);
  return list ? { allowHttp: false, entry: list[1] } : undefined;
}

function expectHint(message: string): Hint {
  const hint = hintOf(message);
  if (hint === undefined) throw new Error(`no hint in: ${message}`);
  return hint;
}

/** `base` with the hint followed, the entry going through the real parser. */
function followed(base: { allowHttp: boolean; allow: string[] }, hint: Hint): EgressPolicy {
  if (hint.entry !== undefined) expect(() => parseAllowList([hint.entry!])).not.toThrow();
  return createEgressPolicy({
    allowHttp: base.allowHttp || hint.allowHttp,
    allow: hint.entry === undefined ? base.allow : [...base.allow, hint.entry],
  });
}

function reasonFor(url: string, policy: EgressPolicy): string {
  const result = checkWebhookUrl(url, policy);
  if (result.ok) throw new Error(`expected ${url} to be refused`);
  return result.reason;
}

const ASCII = /^[\x20-\x7e]+$/;

describe('create-time refusals name the allow-list entry that lifts them', () => {
  it.each([
    ['https://127.0.0.1:4000/in', [], '127.0.0.1:4000'],
    ['https://localhost:4000/in', [], 'localhost:4000'],
    ['https://LOCALHOST./in', [], 'localhost:443'],
    ['https://hooks.corp.internal:8443/in', [], 'hooks.corp.internal:8443'],
    ['https://printer.local/in', [], 'printer.local:443'],
    ['https://db.default.svc:9000/in', [], 'db.default.svc:9000'],
    ['https://bücher.localhost/in', [], 'xn--bcher-kva.localhost:443'],
    ['https://[::1]:4000/in', [], '[::1]:4000'],
    ['https://[fd12:3456::1]/in', [], '[fd12:3456::1]:443'],
    ['https://[::ffff:127.0.0.1]/in', [], '127.0.0.1:443'],
    ['https://[64:ff9b::a9fe:a9fe]/in', [], '[64:ff9b::a9fe:a9fe]:443'],
    ['https://2130706433/in', [], '127.0.0.1:443'],
    ['https://0x7f.1:8080/in', [], '127.0.0.1:8080'],
    ['https://10.0.0.1/in', [], '10.0.0.1:443'],
    // The metadata address is exemptable like any other, so it gets the hint too.
    ['https://169.254.169.254/latest/meta-data/', [], '169.254.169.254:443'],
    // An existing entry for another port: the hint names the port the URL uses.
    ['https://[::1]:9443/in', ['[::1]:8443'], '[::1]:9443'],
    ['https://localhost:4001/in', ['localhost:4000', '10.0.0.0/8'], 'localhost:4001'],
  ])('%s (allow list %j) suggests %s', (url, allow, entry) => {
    const base = { allowHttp: false, allow };
    const reason = reasonFor(url, createEgressPolicy(base));
    expect(reason).toMatch(ASCII);
    expect(reason).toMatch(/webhooks can only be sent to public (addresses|hosts)\./);
    const hint = expectHint(reason);
    expect(hint).toEqual({ allowHttp: false, entry });
    expect(checkWebhookUrl(url, followed(base, hint))).toMatchObject({ ok: true });
  });

  it('names HOOKDESK_EGRESS_ALLOW_HTTP for plain http, and the entry too when the host needs one', () => {
    const strict = { allowHttp: false, allow: [] };
    const publicHttp = reasonFor('http://hooks.example.com/in', createEgressPolicy(strict));
    expect(publicHttp).toBe(
      "Webhook URLs must use https; plain http is not enabled. The server's operator can allow it with HOOKDESK_EGRESS_ALLOW_HTTP=true (development only).",
    );
    const hint = expectHint(publicHttp);
    expect(hint).toEqual({ allowHttp: true, entry: undefined });
    expect(checkWebhookUrl('http://hooks.example.com/in', followed(strict, hint))).toMatchObject({
      ok: true,
    });

    // Enabling http alone would only trade one refusal for the next.
    const url = 'http://127.0.0.1:4000/in';
    const both = expectHint(reasonFor(url, createEgressPolicy(strict)));
    expect(both).toEqual({ allowHttp: true, entry: '127.0.0.1:4000' });
    expect(checkWebhookUrl(url, createEgressPolicy({ allowHttp: true, allow: [] }))).toMatchObject({
      ok: false,
    });
    expect(checkWebhookUrl(url, followed(strict, both))).toMatchObject({ ok: true });

    // Already allow-listed: only the http setting is named.
    const listed = { allowHttp: false, allow: ['127.0.0.1'] };
    const onlyHttp = expectHint(reasonFor(url, createEgressPolicy(listed)));
    expect(onlyHttp).toEqual({ allowHttp: true, entry: undefined });
    expect(checkWebhookUrl(url, followed(listed, onlyHttp))).toMatchObject({ ok: true });
  });

  it.each([
    ['ftp://hooks.example.com/in', true],
    ['file:///etc/passwd', true],
    ['https://user:pass@hooks.example.com/in', false],
    ['https://u:p@localhost/in', false],
    ['https://u:p@localhost/in', true],
    // Credentials stay refused whatever is enabled, so http gets no hint either.
    ['http://user:pass@hooks.example.com/in', false],
    ['not a url', false],
    // A name the allow-list parser does not accept: no entry could lift it.
    ['https://a!b.localhost/in', false],
    ['http://a!b.localhost/in', false],
  ])('%s (http enabled: %s) names no setting, since none lifts it', (url, allowHttp) => {
    const reason = reasonFor(url, createEgressPolicy({ allowHttp, allow: ['localhost'] }));
    expect(reason).toMatch(ASCII);
    expect(reason).not.toMatch(/HOOKDESK_|operator/);
  });
});

describe('delivery-time lookup refusals name the host entry, never the address', () => {
  const resolver: Resolver = async (host) =>
    host === 'hooks.rebind.example'
      ? [
          { address: '93.184.216.34', family: 4 },
          { address: '10.0.0.5', family: 4 },
        ]
      : [];

  function lookup(fn: LookupFunction, host: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('lookup did not call back')), 5_000);
      fn(host, {}, (err, address) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(address as string);
      });
    });
  }

  it.each([
    [8443, 'hooks.rebind.example:8443'],
    // Node's own lookup is not told the port: only a port-less entry applies there.
    [undefined, 'hooks.rebind.example'],
  ])('on port %s suggests %s, and that entry lets the lookup through', async (port, entry) => {
    const base = { allowHttp: false, allow: ['192.168.0.0/16'] };
    const strict = guardedLookupForPort(createEgressPolicy(base), resolver, port);
    const error = await lookup(strict, 'hooks.rebind.example').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlockedDestinationError);
    const { message } = error as Error;
    expect(message).toMatch(ASCII);
    expect(message).toMatch(/^The host hooks\.rebind\.example resolves to a private or internal/);
    expect(message).not.toContain('10.0.0');
    const hint = expectHint(message);
    expect(hint).toEqual({ allowHttp: false, entry });
    const allowed = guardedLookupForPort(followed(base, hint), resolver, port);
    expect(await lookup(allowed, 'hooks.rebind.example')).toBe('93.184.216.34');
  });

  it('names the entry for a local name refused before any DNS query', async () => {
    const base = { allowHttp: false, allow: [] };
    const strict = guardedLookupForPort(createEgressPolicy(base), resolver, 4000);
    const error = (await lookup(strict, 'hooks.rebind.example.internal').catch(
      (e: unknown) => e,
    )) as Error;
    expect(error).toBeInstanceOf(BlockedDestinationError);
    const hint = expectHint(error.message);
    expect(hint.entry).toBe('hooks.rebind.example.internal:4000');
    const allowed = guardedLookupForPort(
      followed(base, hint),
      async () => [{ address: '10.0.0.5', family: 4 }],
      4000,
    );
    expect(await lookup(allowed, 'hooks.rebind.example.internal')).toBe('10.0.0.5');
  });
});

/** A plain-http receiver on loopback, counting the requests it answered. */
function useHttpReceiver(): { port: () => number; received: () => number } {
  let server: Server | undefined;
  let received = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      received += 1;
      req.resume();
      res.end('ok');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });
  return { port: () => (server!.address() as AddressInfo).port, received: () => received };
}

type Env = Record<string, string>;

/**
 * The hint applied to an environment the way an operator would: the setting
 * and value quoted in the message, the entry appended to the list, and the
 * result loaded by the real config parser.
 */
function envAfter(env: Env, hint: Hint): Env {
  const next = { ...env };
  if (hint.allowHttp) next.HOOKDESK_EGRESS_ALLOW_HTTP = 'true';
  if (hint.entry !== undefined) {
    const list = next.HOOKDESK_EGRESS_ALLOW;
    next.HOOKDESK_EGRESS_ALLOW = list === undefined ? hint.entry : `${list},${hint.entry}`;
  }
  return next;
}

forEachDialect(
  'refusal hints through the API',
  (h) => {
    const https = useReceiver();
    const http = useHttpReceiver();
    const opened: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const close of opened.splice(0).reverse()) await close();
    });

    /** The real HTTP app on the suite's database, under a server environment of its own. */
    async function serverWith(env: Env, resolver?: Resolver): Promise<FastifyInstance> {
      const config = loadConfig({
        LOG_LEVEL: 'silent',
        DATABASE_URL: 'sqlite::memory:',
        HOOKDESK_EGRESS_CA_FILE: CA_FILE,
        ...env,
      });
      const delivery = createDeliveryContext(config, resolver ? { resolver } : {});
      const app = await buildApp({
        config,
        database: h.database,
        clock: h.clock,
        logger: createLogger('silent'),
        delivery,
        metrics: h.metrics,
      });
      opened.push(async () => {
        await app.close();
        await delivery.close();
      });
      return app;
    }

    async function call(
      app: FastifyInstance,
      org: Org,
      method: 'POST' | 'PATCH' | 'GET',
      url: string,
      payload?: Record<string, unknown>,
    ): Promise<{ statusCode: number; body: any }> {
      const res = await app.inject({ method, url, headers: org.headers, payload });
      return { statusCode: res.statusCode, body: JSON.parse(res.body) };
    }

    /** The 400 of a refused URL: its message and its one detail both carry the hint. */
    function refusal(res: { statusCode: number; body: any }, code: string): Hint {
      expect(res.statusCode, JSON.stringify(res.body)).toBe(400);
      const { error } = res.body;
      expect(error.code).toBe('validation_failed');
      expect(error.details).toHaveLength(1);
      const [detail] = error.details;
      expect(detail).toMatchObject({ field: 'url', code });
      expect(detail.message).toMatch(ASCII);
      expect(error.message).toBe(`url: ${detail.message}`);
      return expectHint(detail.message);
    }

    it('create and PATCH answers name the setting, and following it lets the same URL in', async () => {
      const org = await h.createOrg();
      const cases: [url: string, code: string, hint: Hint][] = [
        [
          'https://127.0.0.1:4000/in',
          'blocked_destination',
          { allowHttp: false, entry: '127.0.0.1:4000' },
        ],
        [
          'https://localhost:4000/in',
          'blocked_destination',
          { allowHttp: false, entry: 'localhost:4000' },
        ],
        ['https://[::1]:4000/in', 'blocked_destination', { allowHttp: false, entry: '[::1]:4000' }],
        [
          'https://hooks.corp.internal:8443/in',
          'blocked_destination',
          { allowHttp: false, entry: 'hooks.corp.internal:8443' },
        ],
        ['http://hooks.example.com/in', 'https_required', { allowHttp: true, entry: undefined }],
        [
          'http://127.0.0.1:4000/in',
          'https_required',
          { allowHttp: true, entry: '127.0.0.1:4000' },
        ],
      ];
      const created = await call(h.app, org, 'POST', '/api/webhooks', TICKET_HOOK);
      expect(created.statusCode).toBe(201);
      for (const [url, code, expected] of cases) {
        const onCreate = refusal(
          await call(h.app, org, 'POST', '/api/webhooks', { ...TICKET_HOOK, url }),
          code,
        );
        expect(onCreate, url).toEqual(expected);
        const onPatch = refusal(
          await call(h.app, org, 'PATCH', `/api/webhooks/${created.body.id}`, { url }),
          code,
        );
        expect(onPatch, url).toEqual(expected);

        const widened = await serverWith(envAfter({}, onCreate));
        const res = await call(widened, org, 'POST', '/api/webhooks', { ...TICKET_HOOK, url });
        expect(res.statusCode, `${url}: ${JSON.stringify(res.body)}`).toBe(201);
        const patched = await call(widened, org, 'PATCH', `/api/webhooks/${created.body.id}`, {
          url,
        });
        expect(patched.statusCode, url).toBe(200);
      }
    });

    it('survey webhooks get the same hint', async () => {
      const org = await h.createOrg();
      const surveyId = await createSurvey(h, org);
      const res = await call(h.app, org, 'POST', `/api/surveys/${surveyId}/webhooks`, {
        name: 'Survey hook',
        url: 'https://[::1]:4000/in',
      });
      expect(refusal(res, 'blocked_destination')).toEqual({
        allowHttp: false,
        entry: '[::1]:4000',
      });
    });

    /**
     * A webhook created under `createEnv`, test-delivered under `strictEnv`
     * (refused), then again with the answer's hint applied (delivered).
     */
    async function refusedThenDelivered(opts: {
      url: string;
      createEnv: Env;
      strictEnv: Env;
      resolver?: Resolver;
      expected: Hint;
      received: () => number;
    }): Promise<string> {
      const org = await h.createOrg();
      const creator = await serverWith(opts.createEnv, opts.resolver);
      const hook = await call(creator, org, 'POST', '/api/webhooks', {
        ...TICKET_HOOK,
        url: opts.url,
      });
      expect(hook.statusCode, JSON.stringify(hook.body)).toBe(201);

      const before = opts.received();
      const strict = await serverWith(opts.strictEnv, opts.resolver);
      const tested = await call(strict, org, 'POST', `/api/webhooks/${hook.body.id}/test`);
      expect(tested.statusCode, JSON.stringify(tested.body)).toBe(200);
      const [attempt] = tested.body.attempts;
      expect(attempt).toMatchObject({ statusCode: null, error: { code: 'blocked_destination' } });
      const message: string = attempt.error.message;
      expect(message).toMatch(ASCII);
      const hint = expectHint(message);
      expect(hint).toEqual(opts.expected);
      expect(opts.received()).toBe(before);

      // The delivery log shows the same stored text.
      const logged = await call(
        h.app,
        org,
        'GET',
        `/api/webhooks/${hook.body.id}/deliveries/${tested.body.id}`,
      );
      expect(logged.statusCode).toBe(200);
      expect(logged.body.attempts[0].error).toEqual({ code: 'blocked_destination', message });

      const widened = await serverWith(envAfter(opts.strictEnv, hint), opts.resolver);
      const again = await call(widened, org, 'POST', `/api/webhooks/${hook.body.id}/test`);
      expect(again.statusCode).toBe(200);
      expect(again.body.attempts[0], JSON.stringify(again.body)).toMatchObject({
        statusCode: 200,
        error: null,
      });
      expect(opts.received()).toBe(before + 1);
      return message;
    }

    it('a name resolving to loopback at delivery names host:port, never the address', async () => {
      // DNS is the machine's edge; every answer is loopback so nothing leaves the machine.
      const resolver: Resolver = async (host) =>
        host === 'hooks.rebind.example' ? [{ address: '127.0.0.1', family: 4 }] : [];
      const url = `http://hooks.rebind.example:${http.port()}/in`;
      const env = { HOOKDESK_EGRESS_ALLOW_HTTP: 'true' };
      const message = await refusedThenDelivered({
        url,
        createEnv: env,
        strictEnv: env,
        resolver,
        expected: { allowHttp: false, entry: `hooks.rebind.example:${http.port()}` },
        received: http.received,
      });
      expect(message).toMatch(/^The host hooks\.rebind\.example resolves to a private or internal/);
      expect(message).not.toContain('127.0.0');
    });

    it('an IP literal no longer allowed at delivery names address:port', async () => {
      await refusedThenDelivered({
        url: https.url('/literal'),
        createEnv: { HOOKDESK_EGRESS_ALLOW: '127.0.0.1' },
        strictEnv: {},
        expected: { allowHttp: false, entry: `127.0.0.1:${https.port}` },
        received: () => https.received.length,
      });
    });

    it('a local name no longer allowed at delivery names name:port', async () => {
      const resolver: Resolver = async (host) =>
        host === 'localhost' ? [{ address: '127.0.0.1', family: 4 }] : [];
      const message = await refusedThenDelivered({
        url: `https://localhost:${https.port}/named`,
        createEnv: { HOOKDESK_EGRESS_ALLOW: 'localhost' },
        strictEnv: { HOOKDESK_EGRESS_ALLOW: '10.0.0.0/8' },
        resolver,
        expected: { allowHttp: false, entry: `localhost:${https.port}` },
        received: () => https.received.length,
      });
      expect(message).toMatch(/^The host "localhost" is a loopback name/);
    });

    it('plain http no longer enabled at delivery names the http setting, with the entry when needed', async () => {
      const url = `http://127.0.0.1:${http.port()}/plain`;
      const created = { HOOKDESK_EGRESS_ALLOW_HTTP: 'true', HOOKDESK_EGRESS_ALLOW: '127.0.0.1' };
      await refusedThenDelivered({
        url,
        createEnv: created,
        strictEnv: { HOOKDESK_EGRESS_ALLOW: '127.0.0.1' },
        expected: { allowHttp: true, entry: undefined },
        received: http.received,
      });
      const message = await refusedThenDelivered({
        url,
        createEnv: created,
        strictEnv: {},
        expected: { allowHttp: true, entry: `127.0.0.1:${http.port()}` },
        received: http.received,
      });
      expect(message).toMatch(/^Refusing http: delivery to 127\.0\.0\.1: only https is enabled\./);
    });
  },
  { HOOKDESK_EGRESS_CA_FILE: CA_FILE },
);
