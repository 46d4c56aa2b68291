/**
 * /docs teaches: every operation of the OpenAPI document has a summary and a
 * declared tag, every JSON request body and every answer with a body has an
 * example, each example is valid against its own schema, and the tags come in
 * reading order (webhooks first, the email RPC endpoints after the help desk).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { expect, it } from 'vitest';
import { OPENAPI_TAGS, TAG } from '../src/http/openapi-tags.js';
import { RUN_BROWSER_TESTS, launchChromium } from './support/browser.js';
import { forEachDialect } from './support/harness.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

interface Media {
  schema?: object;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface Operation {
  summary?: string;
  tags?: string[];
  requestBody?: { content: Record<string, Media> };
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
      const success = Object.entries(op.responses).filter(([status]) => status.startsWith('2'));
      if (success.length === 0) problems.push(`${name}: no 2xx answer documented`);
      // An answer without a body needs no example: a 204, or a provider callback
      // (those answer in the provider's own terms, see docs/providers.md).
      const bodiless = success.filter(([, response]) => !response.content);
      for (const [status] of bodiless) {
        if (status !== '204' && !op.tags?.includes(TAG.providerCallbacks)) {
          problems.push(`${name}: ${status} documented without a body`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('has every example valid against its own schema', async () => {
    const doc = await openapi();
    const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false });
    addFormats(ajv);
    const problems: string[] = [];
    let checked = 0;
    for (const { name, op } of operations(doc)) {
      for (const { what, media } of documentedBodies(name, op)) {
        if (!media.schema) continue;
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
