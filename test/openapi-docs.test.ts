/**
 * /docs teaches: every operation of the OpenAPI document has a summary and a
 * declared tag, every request body and every answer with a body has an
 * example, each example is valid against its own schema, and the tags come in
 * reading order (webhooks first, the email RPC endpoints after the help desk).
 * The provider callbacks' examples (their providers' own formats) are posted
 * to the live routes: refused for their placeholder credentials, never for
 * their shape, and accepted with the documented answer once really signed.
 */
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { expect, it } from 'vitest';
import { OPENAPI_TAGS, TAG } from '../src/http/openapi-tags.js';
import {
  CALLBACK_EXAMPLES,
  DOCUMENTATION_ONLY,
} from '../src/inbound/providers/callback-examples.js';
import { RUN_BROWSER_TESTS, launchChromium } from './support/browser.js';
import {
  CHANNEL_ENV,
  PUBLIC_URL,
  TWILIO_SMS,
  counts,
  createChannel,
  multipart,
} from './support/channels.js';
import { forEachDialect, type Harness, type Org } from './support/harness.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

interface Media {
  schema?: object;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface Parameter {
  name: string;
  in: string;
  example?: unknown;
}
interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { description?: string; content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
}
interface Doc {
  tags?: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
  components?: object;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

function operations(doc: Doc): { name: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.has(method))
      .map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, op })),
  );
}

/** The example values of one media type object: `example`, or each of `examples`. */
function examplesOf(media: Media): unknown[] {
  if (media.example !== undefined) return [media.example];
  return Object.values(media.examples ?? {}).map((e) => e.value);
}

/** Each (what, media) pair of an operation that must carry an example. */
function documentedBodies(name: string, op: Operation): { what: string; media: Media }[] {
  const out: { what: string; media: Media }[] = [];
  for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
    out.push({ what: `${name} request ${type}`, media });
  }
  for (const [status, response] of Object.entries(op.responses)) {
    if (!status.startsWith('2')) continue;
    for (const [type, media] of Object.entries(response.content ?? {})) {
      out.push({ what: `${name} ${status} ${type}`, media });
    }
  }
  return out;
}

/** The media types providers post. */
const PROVIDER_TYPES = new Set([
  'application/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
]);

/** One documented request of a provider callback, as the provider would send it. */
interface CallbackRequest {
  what: string;
  method: 'GET' | 'POST';
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  type?: string;
  example?: unknown;
}

/** Every documented request of a provider callback: each content type, each example. */
function callbackRequests(name: string, op: Operation): CallbackRequest[] {
  const [method, path = ''] = name.split(' ') as ['GET' | 'POST', string];
  const params = (where: string) =>
    Object.fromEntries(
      (op.parameters ?? []).filter((p) => p.in === where).map((p) => [p.name, String(p.example)]),
    );
  const base = { method, path, query: params('query'), headers: params('header') };
  const bodies = Object.entries(op.requestBody?.content ?? {}).flatMap(([type, media]) =>
    examplesOf(media).map((example, n) => ({ what: `${name} ${type} #${n}`, type, example })),
  );
  return bodies.length === 0 ? [{ what: name, ...base }] : bodies.map((b) => ({ ...base, ...b }));
}

/** The request body as the provider encodes it. */
function encode(
  type: string,
  example: unknown,
): { payload: string; headers: Record<string, string> } {
  if (type === 'multipart/form-data') return multipart(example as Record<string, string>);
  if (type === 'application/x-www-form-urlencoded') {
    const payload = new URLSearchParams(example as Record<string, string>).toString();
    return { payload, headers: { 'content-type': type } };
  }
  return { payload: JSON.stringify(example), headers: { 'content-type': type } };
}

async function send(
  h: Harness,
  routeKey: string,
  req: CallbackRequest,
  extra: Partial<CallbackRequest> = {},
) {
  const r = { ...req, ...extra };
  const body = r.type ? encode(r.type, r.example) : { payload: undefined, headers: {} };
  const url = `${r.path.replace('{routeKey}', routeKey)}?${new URLSearchParams(r.query).toString()}`;
  return h.request({
    method: r.method,
    url: url.endsWith('?') ? url.slice(0, -1) : url,
    headers: { ...r.headers, ...body.headers },
    payload: body.payload,
  });
}

/** Credentials of the channels the callback examples are posted to. */
const CREDENTIALS = {
  twilioAuthToken: TWILIO_SMS.credentials.authToken,
  metaAppSecret: 'meta-app-secret-for-docs-test',
  metaVerifyToken: 'meta-verify-token-for-docs-test',
  mailgunSigningKey: 'mailgun-signing-key-for-docs-test',
  sendgridParseToken: 'sendgrid-parse-token-for-docs-test',
  sendgridKeys: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }),
};

interface CallbackChannels {
  /** routeKey by provider path segment (`twilio`, `meta`, …). */
  routeKeys: Record<string, string>;
  /** `authorization` header of the Postmark channel's Basic credentials. */
  postmarkAuth: string;
}

async function callbackChannels(h: Harness, org: Org): Promise<CallbackChannels> {
  const created = {
    twilio: await createChannel(h, org, TWILIO_SMS),
    meta: await createChannel(h, org, {
      type: 'meta_whatsapp',
      credentials: {
        appSecret: CREDENTIALS.metaAppSecret,
        verifyToken: CREDENTIALS.metaVerifyToken,
        // The example's phone number id, so its message is stored rather than skipped.
        phoneNumberId: '100000000000002',
      },
    }),
    sendgrid: await createChannel(h, org, {
      type: 'sendgrid',
      credentials: {
        eventWebhookPublicKey: CREDENTIALS.sendgridKeys.publicKey
          .export({ type: 'spki', format: 'der' })
          .toString('base64'),
        inboundParseToken: CREDENTIALS.sendgridParseToken,
      },
    }),
    mailgun: await createChannel(h, org, {
      type: 'mailgun',
      credentials: { signingKey: CREDENTIALS.mailgunSigningKey },
    }),
    postmark: await createChannel(h, org, { type: 'postmark' }),
  };
  const routeKeys = Object.fromEntries(
    Object.entries(created).map(([provider, channel]) => {
      const url = Object.values(channel.callbackUrls)[0]!;
      return [provider, /\/channels\/([^/]+)\//.exec(new URL(url).pathname)![1]!];
    }),
  );
  const postmark = new URL(created.postmark.callbackUrls.inbound!);
  const basic = `${decodeURIComponent(postmark.username)}:${decodeURIComponent(postmark.password)}`;
  return { routeKeys, postmarkAuth: `Basic ${Buffer.from(basic).toString('base64')}` };
}

function routeKeyOf(channels: CallbackChannels, path: string): string {
  const provider = /\{routeKey\}\/([a-z]+)\//.exec(path)?.[1] ?? '';
  const key = channels.routeKeys[provider];
  if (!key) throw new Error(`no channel for ${path}`);
  return key;
}

/** The documented request with the channel's real credential in place of the placeholder. */
function signed(
  req: CallbackRequest,
  url: string,
  channels: CallbackChannels,
  now: number,
  token: string,
): Partial<CallbackRequest> {
  const body = () => (req.type ? encode(req.type, req.example).payload : '');
  if (url.includes('/twilio/')) {
    const params = req.example as Record<string, string>;
    const signature = getExpectedTwilioSignature(
      CREDENTIALS.twilioAuthToken,
      `${PUBLIC_URL}${url}`,
      params,
    );
    return { headers: { 'X-Twilio-Signature': signature } };
  }
  if (url.includes('/meta/') && req.method === 'GET') {
    return { query: { ...req.query, 'hub.verify_token': CREDENTIALS.metaVerifyToken } };
  }
  if (url.includes('/meta/')) {
    const hex = createHmac('sha256', CREDENTIALS.metaAppSecret).update(body()).digest('hex');
    return { headers: { 'X-Hub-Signature-256': `sha256=${hex}` } };
  }
  if (url.endsWith('/sendgrid/events')) {
    const timestamp = String(now);
    const signature = sign(
      'sha256',
      Buffer.concat([Buffer.from(timestamp), Buffer.from(body())]),
      CREDENTIALS.sendgridKeys.privateKey,
    ).toString('base64');
    return {
      headers: {
        'X-Twilio-Email-Event-Webhook-Signature': signature,
        'X-Twilio-Email-Event-Webhook-Timestamp': timestamp,
      },
    };
  }
  if (url.endsWith('/sendgrid/inbound'))
    return { query: { token: CREDENTIALS.sendgridParseToken } };
  if (url.includes('/mailgun/')) {
    // The signature fields travel in the body: the example's placeholders are replaced.
    const fields = {
      timestamp: String(now),
      token,
      signature: createHmac('sha256', CREDENTIALS.mailgunSigningKey)
        .update(`${now}${token}`)
        .digest('hex'),
    };
    const example = req.example as Record<string, unknown>;
    return url.endsWith('/events')
      ? { example: { ...example, signature: fields } }
      : { example: { ...example, ...fields } };
  }
  return { headers: { authorization: channels.postmarkAuth } };
}

forEachDialect('OpenAPI document and /docs', (h) => {
  const openapi = async (): Promise<Doc> => {
    const res = await h.request({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc: Doc = res.json();
    return doc;
  };

  it('gives every operation a summary and a declared tag', async () => {
    const doc = await openapi();
    const declared = new Set((doc.tags ?? []).map((t) => t.name));
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThan(60);
    const problems: string[] = [];
    for (const { name, op } of ops) {
      if (!op.summary?.trim()) problems.push(`${name}: no summary`);
      if (!op.tags?.length) problems.push(`${name}: no tag`);
      for (const tag of op.tags ?? []) {
        if (!declared.has(tag)) problems.push(`${name}: tag "${tag}" is not declared`);
      }
    }
    expect(problems).toEqual([]);
    // Every declared tag is used, so none shows as an empty section.
    const used = new Set(ops.flatMap(({ op }) => op.tags ?? []));
    expect([...declared].filter((t) => !used.has(t))).toEqual([]);
  });

  it('declares the tags in reading order: webhooks first, the email RPC endpoints after tickets', async () => {
    const doc = await openapi();
    const names = (doc.tags ?? []).map((t) => t.name);
    expect(names).toEqual(OPENAPI_TAGS.map((t) => t.name));
    expect(names[0]).toBe(TAG.webhooks);
    expect(names.indexOf(TAG.inboundEmail)).toBeGreaterThan(names.indexOf(TAG.tickets));
    expect(names.indexOf(TAG.inboundEmail)).toBeGreaterThan(names.indexOf(TAG.messages));
    for (const tag of doc.tags ?? []) expect(tag, tag.name).toHaveProperty('description');
    // The email RPC endpoints are under that tag, and only they.
    const rpc = operations(doc).filter(({ op }) => op.tags?.includes(TAG.inboundEmail));
    expect(rpc.map((o) => o.name).sort()).toEqual([
      'POST /api/rpc/tickets/email/delivery-status',
      'POST /api/rpc/tickets/email/inbound',
    ]);
  });

  it('has an example for every request body and every answer with a body', async () => {
    const doc = await openapi();
    const problems: string[] = [];
    for (const { name, op } of operations(doc)) {
      for (const { what, media } of documentedBodies(name, op)) {
        if (examplesOf(media).length === 0) problems.push(`${what}: no example`);
      }
      // Provider callbacks always post a body (the API's bodiless action POSTs, like
      // `…/retry` and `…/test`, have none to document).
      const callback = op.tags?.includes(TAG.providerCallbacks);
      if (callback && name.startsWith('POST ') && !op.requestBody) {
        problems.push(`${name}: no request body`);
      }
      // Only a callback's body is marked as described, not validated (the fuzzer skips those).
      const marked = (op.requestBody as Record<string, unknown> | undefined)?.[DOCUMENTATION_ONLY];
      if (op.requestBody && marked !== (callback ? true : undefined)) {
        problems.push(`${name}: ${DOCUMENTATION_ONLY} is ${String(marked)}`);
      }
      const success = Object.entries(op.responses).filter(([status]) => status.startsWith('2'));
      if (success.length === 0) problems.push(`${name}: no 2xx answer documented`);
      // An answer without a body needs no example: a 204, or a provider callback
      // documented as answering an empty 200 (Twilio's status callback, Meta's POST).
      const bodiless = success.filter(([, response]) => !response.content);
      for (const [status] of bodiless) {
        const empty = status === '200' && CALLBACK_EXAMPLES[name]?.answer === 'empty';
        if (status !== '204' && !empty) {
          problems.push(`${name}: ${status} documented without a body`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('documents every provider callback in its provider’s own format', async () => {
    const doc = await openapi();
    const callbacks = operations(doc).filter(({ op }) => op.tags?.includes(TAG.providerCallbacks));
    expect(callbacks.length).toBe(10);
    // Every callback has its entry, and every entry names an operation of the document.
    expect(callbacks.map((c) => c.name).sort()).toEqual(Object.keys(CALLBACK_EXAMPLES).sort());
    const problems: string[] = [];
    for (const { name, op } of callbacks) {
      // How the request is authenticated: on the body of a POST, on the GET itself.
      const said = name.startsWith('POST ') ? op.requestBody?.description : op.description;
      if (!said?.includes('docs/providers.md'))
        problems.push(`${name}: no word on its credentials`);
      for (const type of Object.keys(op.requestBody?.content ?? {})) {
        if (!PROVIDER_TYPES.has(type)) problems.push(`${name}: request content type ${type}`);
      }
      // Parameters the provider sends carry an example too (hub.*, signature headers).
      for (const p of op.parameters ?? []) {
        if (p.in !== 'path' && p.example === undefined) {
          problems.push(`${name}: ${p.name} has no example`);
        }
      }
    }
    expect(problems).toEqual([]);
    // The answers that are not JSON, in their real content types.
    const path = (kind: string) => doc.paths[`/api/rpc/channels/{routeKey}/${kind}`];
    const twiml = path('twilio/inbound')?.post?.responses['200']?.content;
    expect(Object.keys(twiml ?? {})).toEqual(['text/xml']);
    const verification = path('meta/webhook')?.get;
    expect(Object.keys(verification?.responses['200']?.content ?? {})).toEqual(['text/plain']);
    const hub = verification?.parameters?.filter((p) => p.in === 'query').map((p) => p.name);
    expect(hub?.sort()).toEqual(['hub.challenge', 'hub.mode', 'hub.verify_token']);
  });

  it('has every example valid against its own schema', async () => {
    const doc = await openapi();
    const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false });
    addFormats(ajv);
    const problems: string[] = [];
    let checked = 0;
    let checkedCallbacks = 0;
    for (const { name, op } of operations(doc)) {
      for (const { what, media } of documentedBodies(name, op)) {
        if (!media.schema) {
          problems.push(`${what}: no schema`);
          continue;
        }
        if (op.tags?.includes(TAG.providerCallbacks)) checkedCallbacks += examplesOf(media).length;
        // Components ride along so that `#/components/...` references resolve.
        const validate = ajv.compile({ ...media.schema, components: doc.components ?? {} });
        for (const example of examplesOf(media)) {
          checked++;
          if (!validate(example)) {
            problems.push(`${what}: ${ajv.errorsText(validate.errors, { dataVar: 'example' })}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(80);
    // The provider callbacks' examples were among them: each request and non-JSON answer.
    expect(checkedCallbacks).toBeGreaterThanOrEqual(14);
  });

  it('catches an example that does not fit its schema', () => {
    // The check above would pass vacuously if Ajv ignored these keywords.
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile({
      type: 'object',
      properties: {
        id: { type: 'string', format: 'uuid' },
        at: { type: 'string', format: 'date-time' },
        name: { type: 'string', nullable: true },
      },
      required: ['id'],
      additionalProperties: false,
    });
    expect(validate({ id: '019bc0e5-bc1c-7140-a942-9150abcbf244', name: null })).toBe(true);
    expect(validate({ id: 'ticket-42' })).toBe(false);
    expect(validate({ id: '019bc0e5-bc1c-7140-a942-9150abcbf244', at: 'yesterday' })).toBe(false);
    expect(validate({ id: '019bc0e5-bc1c-7140-a942-9150abcbf244', extra: 1 })).toBe(false);
  });

  it('keeps the examples out of the schemas the server validates with', async () => {
    const doc = await openapi();
    // A documented example body is exactly what a request would send; the route
    // still refuses what its schema refuses (examples are annotations only).
    const create = doc.paths['/api/tickets']?.post?.requestBody?.content['application/json'];
    expect(create?.example).toMatchObject({ subject: expect.any(String) });
    const org = await h.createOrg();
    const refused = await h.request({
      method: 'POST',
      url: '/api/tickets',
      key: org.apiKey,
      payload: { ...(create?.example as object), subject: '' },
    });
    expect(refused.statusCode).toBe(400);
    // An answer is serialized as before: no `examples` key leaks into it.
    const ticket = await h.request({
      method: 'POST',
      url: '/api/tickets',
      key: org.apiKey,
      payload: { subject: 'Printer on fire', requester: { email: 'pat@example.com' } },
    });
    expect(ticket.statusCode, ticket.body).toBe(201);
    expect(ticket.json()).not.toHaveProperty('examples');
    expect(ticket.json().subject).toBe('Printer on fire');
  });

  it('serves /docs with the tags in the declared order', async () => {
    for (const url of ['/docs', '/docs/']) {
      const page = await h.request({ method: 'GET', url });
      expect(page.statusCode, url).toBe(200);
      expect(page.headers['content-type'], url).toContain('text/html');
    }
    const init = await h.request({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(init.statusCode).toBe(200);
    // Swagger UI keeps the document's tag order unless told to sort.
    expect(init.body).not.toMatch(/tagsSorter/);
    expect(init.body).toContain("url: resolveUrl('./json')");
    const json = await h.request({ method: 'GET', url: '/docs/json' });
    expect(json.statusCode).toBe(200);
    const served: Doc = json.json();
    expect(served.tags?.map((t) => t.name)).toEqual(OPENAPI_TAGS.map((t) => t.name));
  });

  // What a reader sees: Swagger UI itself, in Chromium, lists the tags in order.
  // The page is the same on both dialects, so it is opened once.
  it.skipIf(!RUN_BROWSER_TESTS || h.dialect !== 'sqlite')(
    'opens /docs in Chromium on the webhooks tag',
    { timeout: 90_000 },
    async () => {
      const base = await h.app.listen({ port: 0, host: '127.0.0.1' });
      const dir = mkdtempSync(join(tmpdir(), 'hookdesk-docs-'));
      const context = await launchChromium(dir);
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        await page.goto(`${base}/docs/`);
        const headings = page.locator('.opblock-tag[data-tag]');
        await headings.first().waitFor({ timeout: 30_000 });
        const shown = await headings.evaluateAll((els) =>
          els.map((el) => el.getAttribute('data-tag')),
        );
        expect(shown).toEqual(OPENAPI_TAGS.map((t) => t.name));
      } finally {
        await context.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

// The examples as requests: the routes read each provider's own body (they validate none).
forEachDialect(
  'Provider callback examples on the live routes',
  (h) => {
    const openapi = async (): Promise<Doc> => {
      const res = await h.request({ method: 'GET', url: '/openapi.json' });
      expect(res.statusCode).toBe(200);
      const doc: Doc = res.json();
      return doc;
    };

    it('posts each provider callback example to its live route: refused for its credentials, never its shape', async () => {
      const doc = await openapi();
      const org = await h.createOrg();
      const keys = await callbackChannels(h, org);
      const requests = operations(doc)
        .filter(({ op }) => op.tags?.includes(TAG.providerCallbacks))
        .flatMap(({ name, op }) => callbackRequests(name, op));
      expect(requests.length).toBe(12);
      for (const req of requests) {
        // As documented, with placeholder credentials: refused for those (401/403), as the
        // provider docs say. Where the check comes after the body is read (Twilio, Meta's
        // POST, SendGrid events, Mailgun), a body schema would have answered 400 first.
        const res = await send(h, routeKeyOf(keys, req.path), req);
        expect([401, 403], `${req.what}: ${res.body}`).toContain(res.statusCode);
        expect(['unauthorized', 'forbidden']).toContain(res.json().error.code);
      }
    });

    it('accepts each provider callback example once really signed, with the documented answer', async () => {
      const doc = await openapi();
      const org = await h.createOrg();
      const keys = await callbackChannels(h, org);
      const before = await counts(h, org.organizationId);
      let token = 0;
      const now = Math.floor(h.clock.now() / 1000);
      const callbacks = operations(doc).filter(({ op }) =>
        op.tags?.includes(TAG.providerCallbacks),
      );
      for (const { name, op } of callbacks) {
        for (const req of callbackRequests(name, op)) {
          const routeKey = routeKeyOf(keys, req.path);
          const url = req.path.replace('{routeKey}', routeKey);
          const extra = signed(req, url, keys, now, `example-token-${(token += 1)}`);
          const res = await send(h, routeKey, req, extra);
          expect(res.statusCode, `${req.what}: ${res.body}`).toBe(200);
          const documented = op.responses['200']?.content ?? {};
          const [type, media] = Object.entries(documented)[0] ?? [];
          if (!type || !media) {
            expect(res.body, req.what).toBe('');
          } else if (type === 'application/json') {
            expect(res.json(), req.what).toEqual(examplesOf(media)[0]);
          } else {
            expect(res.headers['content-type'], req.what).toContain(type);
            expect(res.body, req.what).toBe(examplesOf(media)[0]);
          }
        }
      }
      // The inbound examples are real messages: Twilio, Meta, SendGrid, Mailgun (once for both
      // encodings: the same Message-ID) and Postmark each stored one.
      const after = await counts(h, org.organizationId);
      expect(after.messages - before.messages).toBe(5);
    });
  },
  CHANNEL_ENV,
);
