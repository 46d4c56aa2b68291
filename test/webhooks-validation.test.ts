import { expect, it } from 'vitest';
import { forEachDialect } from './support/harness.js';
import {
  SECRET,
  SURVEY_HOOK,
  TICKET_HOOK,
  countWebhooks,
  createHook,
  createSurvey,
  problemFields,
  webhookApi,
} from './support/webhooks.js';

interface Case {
  rule: string;
  /** Replaces fields of a valid create body; `undefined` removes one. */
  body: Record<string, unknown>;
  field: string;
  survey?: boolean;
}

const many = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);
const headers = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-H${i}`, 'v']));

const CASES: Case[] = [
  { rule: 'name is required', body: { name: undefined }, field: 'name' },
  { rule: 'name has at least 1 character', body: { name: '' }, field: 'name' },
  { rule: 'name has at most 200 characters', body: { name: 'n'.repeat(201) }, field: 'name' },
  { rule: 'url is required', body: { url: undefined }, field: 'url' },
  {
    rule: 'url has at most 2000 characters',
    body: { url: `https://hooks.example.com/${'a'.repeat(1975)}` },
    field: 'url',
  },
  { rule: 'url must parse', body: { url: 'not a url' }, field: 'url' },
  { rule: 'url must use https', body: { url: 'http://hooks.example.com/' }, field: 'url' },
  { rule: 'ticket events are required', body: { events: undefined }, field: 'events' },
  { rule: 'events has at least 1 item', body: { events: [] }, field: 'events' },
  {
    rule: 'events has at most 50 items',
    body: { events: many(51, 'ticket.created') },
    field: 'events',
  },
  {
    rule: 'events are known ticket event types',
    body: { events: ['ticket.created', 'ticket.exploded'] },
    field: 'events[1]',
  },
  {
    rule: 'ticket webhooks take no survey events',
    body: { events: ['survey.response_completed'] },
    field: 'events[0]',
  },
  { rule: 'events are strings', body: { events: [42] }, field: 'events[0]' },
  {
    rule: 'events have no duplicates',
    body: { events: ['ticket.created', 'ticket.closed', 'ticket.created'] },
    field: 'events[2]',
  },
  {
    rule: 'survey webhooks take only survey events',
    body: { events: ['ticket.created'] },
    field: 'events[0]',
    survey: true,
  },
  { rule: 'survey events are not empty', body: { events: [] }, field: 'events', survey: true },
  { rule: 'secret has at least 16 characters', body: { secret: 's'.repeat(15) }, field: 'secret' },
  { rule: 'secret has at most 500 characters', body: { secret: 's'.repeat(501) }, field: 'secret' },
  { rule: 'secret is a string', body: { secret: 1234567890123456 }, field: 'secret' },
  { rule: 'headers is an object', body: { headers: ['X-A: b'] }, field: 'headers' },
  { rule: 'at most 20 headers', body: { headers: headers(21) }, field: 'headers' },
  { rule: 'header names are tokens', body: { headers: { 'X Foo': 'a' } }, field: 'headers.X Foo' },
  {
    rule: 'header names have at most 100 characters',
    body: { headers: { [`X-${'n'.repeat(99)}`]: 'a' } },
    field: `headers.X-${'n'.repeat(99)}`,
  },
  { rule: 'header values are strings', body: { headers: { 'X-Foo': 1 } }, field: 'headers.X-Foo' },
  {
    rule: 'header values have at most 1000 characters',
    body: { headers: { 'X-Foo': 'v'.repeat(1001) } },
    field: 'headers.X-Foo',
  },
  {
    rule: 'header values have no CR or LF',
    body: { headers: { 'X-Foo': 'a\r\nX-Injected: 1' } },
    field: 'headers.X-Foo',
  },
  {
    rule: 'header values have no other control characters',
    body: { headers: { 'X-Foo': 'bell\u0007' } },
    field: 'headers.X-Foo',
  },
  {
    rule: 'header names differing only by case are duplicates',
    body: { headers: { 'X-Tenant': 'a', 'x-tenant': 'b' } },
    field: 'headers.x-tenant',
  },
  { rule: 'active is a boolean', body: { active: 'yes' }, field: 'active' },
  { rule: 'retryPolicy is an array', body: { retryPolicy: 5 }, field: 'retryPolicy' },
  {
    rule: 'retryPolicy has at most 10 entries',
    body: { retryPolicy: many(11, 1) },
    field: 'retryPolicy',
  },
  { rule: 'retry delays are at least 1', body: { retryPolicy: [0] }, field: 'retryPolicy[0]' },
  {
    rule: 'retry delays are at most 604800',
    body: { retryPolicy: [1, 604_801] },
    field: 'retryPolicy[1]',
  },
  { rule: 'retry delays are integers', body: { retryPolicy: [1.5] }, field: 'retryPolicy[0]' },
  { rule: 'unknown fields are refused', body: { secretKey: SECRET }, field: 'secretKey' },
];

const STANDARD = [
  'Content-Type',
  'X-Webhook-Event',
  'X-Webhook-Delivery',
  'X-Webhook-Signature',
  // Standard Webhooks, in any case.
  'webhook-id',
  'Webhook-Timestamp',
  'WEBHOOK-SIGNATURE',
];
const HOP_BY_HOP = [
  'Host',
  'Content-Length',
  'Connection',
  'Transfer-Encoding',
  'Keep-Alive',
  'Proxy-Connection',
  'Proxy-Authorization',
  'TE',
  'Trailer',
  'Upgrade',
  'Expect',
];

forEachDialect('webhook input validation', (h) => {
  for (const c of CASES) {
    it(`create: ${c.rule} (400 at ${c.field}, nothing written)`, async () => {
      const org = await h.createOrg();
      const survey = c.survey ? await createSurvey(h, org) : undefined;
      const api = webhookApi(h, org, survey ? `/api/surveys/${survey}/webhooks` : undefined);
      const body: Record<string, unknown> = { ...(survey ? SURVEY_HOOK : TICKET_HOOK), ...c.body };
      for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
      const res = await api.create(body);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
      expect(problemFields(res)).toContain(c.field);
      expect(await countWebhooks(h, org.organizationId)).toBe(0);
    });
  }

  it('refuses the standard delivery headers and User-Agent, in any case', async () => {
    const org = await h.createOrg();
    const names = [...STANDARD, 'User-Agent', 'content-type', 'USER-AGENT'];
    const res = await webhookApi(h, org).create({
      ...TICKET_HOOK,
      headers: Object.fromEntries(names.map((n) => [n, 'x'])),
    });
    expect(res.statusCode).toBe(400);
    expect(problemFields(res).sort()).toEqual(names.map((n) => `headers.${n}`).sort());
    expect(await countWebhooks(h, org.organizationId)).toBe(0);
  });

  it('refuses hop-by-hop and framing headers, in any case', async () => {
    const org = await h.createOrg();
    const names = [...HOP_BY_HOP, 'host', 'transfer-ENCODING'];
    const res = await webhookApi(h, org).create({
      ...TICKET_HOOK,
      headers: Object.fromEntries(names.map((n) => [n, 'x'])),
    });
    expect(res.statusCode).toBe(400);
    expect(problemFields(res).sort()).toEqual(names.map((n) => `headers.${n}`).sort());
    expect(await countWebhooks(h, org.organizationId)).toBe(0);
  });

  it('lists schema and code-checked problems together, one per field', async () => {
    const org = await h.createOrg();
    const res = await webhookApi(h, org).create({
      name: '',
      url: 'http://hooks.example.com/',
      events: ['ticket.created', 'ticket.created', 'nope'],
      secret: 'short',
      headers: { Host: 'x', 'X-Ok': 'fine' },
      retryPolicy: [0],
      extra: true,
    });
    expect(res.statusCode).toBe(400);
    expect(problemFields(res).sort()).toEqual(
      [
        'name',
        'url',
        'events[1]',
        'events[2]',
        'secret',
        'headers.Host',
        'retryPolicy[0]',
        'extra',
      ].sort(),
    );
    for (const d of res.json().error.details) expect(d.in).toBe('body');
    expect(res.body).not.toContain('short');
    expect(await countWebhooks(h, org.organizationId)).toBe(0);
  });

  it('accepts the limits: tab in a value, 20 headers, empty or full retry policy', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    const hook = await createHook(api, {
      name: 'n'.repeat(200),
      secret: 's'.repeat(16),
      headers: { ...headers(19), 'X-Tabbed': 'a\tb' },
      retryPolicy: [],
    });
    expect(hook.retryPolicy).toEqual([]);
    expect(Object.keys(hook.headers)).toHaveLength(20);
    const row = await h.db
      .selectFrom('webhooks')
      .select('headers')
      .where('id', '=', hook.id)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.headers)['X-Tabbed']).toBe('a\tb');
    const max = await createHook(api, {
      secret: 's'.repeat(500),
      retryPolicy: many(10, 604_800),
    });
    expect(max.retryPolicy).toHaveLength(10);
  });

  it('checks PATCH bodies with the same rules and changes nothing on failure', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    const hook = await createHook(api);
    const res = await api.patch(hook.id, {
      name: '',
      url: 'https://10.0.0.1/',
      events: ['ticket.created', 'ticket.created'],
      headers: { Connection: 'close' },
      retryPolicy: [604_801],
      active: false,
      id: 'x',
    });
    expect(res.statusCode).toBe(400);
    expect(problemFields(res).sort()).toEqual(
      ['name', 'url', 'events[1]', 'headers.Connection', 'retryPolicy[0]', 'id'].sort(),
    );
    expect((await api.get(hook.id)).json()).toEqual(hook);
  });

  it('validates a PATCH body before looking the webhook up', async () => {
    const org = await h.createOrg();
    const api = webhookApi(h, org);
    expect(
      (await api.patch('00000000-0000-7000-8000-000000000000', { name: 'x' })).statusCode,
    ).toBe(404);
    expect((await api.patch('00000000-0000-7000-8000-000000000000', { name: '' })).statusCode).toBe(
      400,
    );
  });
});
