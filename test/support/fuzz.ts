/**
 * Shared machinery of the bad-input suite (test/bad-input-*.test.ts):
 *
 * - `checkAnswer`: what every answer must be (never 5xx; errors in the
 *   contract's format with a known code and that code's status);
 * - `DbWatch`: row counts and row checksums of every table, to prove that a
 *   rejected request wrote nothing;
 * - `World`: two organizations full of real rows, whose ids replace path
 *   parameters (own ids, the other organization's ids, garbage);
 * - `discoverRoutes`: every route from /openapi.json plus the hidden public
 *   ones, so a route added later is fuzzed without touching these tests;
 * - arbitraries: adversarial strings, JSON, deep nesting, invalid UTF-8,
 *   content types, body shapes and field-by-field mutations of them.
 *
 * Everything goes through `h.request` (inject): no sockets, no network.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { sql, type TableMetadata } from 'kysely';
import { beforeAll, expect } from 'vitest';
import { createDeliveryContext } from '../../src/delivery/context.js';
import { DETAIL_CODES, ERRORS } from '../../src/errors.js';
import { SURVEY_EVENT_TYPES, TICKET_EVENT_TYPES } from '../../src/events/catalog.js';
import { buildApp } from '../../src/cli/app.js';
import { DOCUMENTATION_ONLY } from '../../src/inbound/providers/callback-examples.js';
import { newId } from '../../src/ids.js';
import { createLogger } from '../../src/logger.js';
import type { Harness, Org } from './harness.js';
import { insertDelivery } from './webhooks.js';

// ---------------------------------------------------------------------------
// Run counts

/**
 * `HOOKDESK_FUZZ_SCALE=10 npx vitest run test/bad-input` runs every property
 * ten times longer, for a deeper local search; CI uses the default of 1.
 */
export function runs(n: number): number {
  const scale = Number(process.env.HOOKDESK_FUZZ_SCALE ?? '1');
  return Math.max(1, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

/**
 * fc.assert parameters shared by the suite. On failure fast-check prints the
 * seed and path that replay it (`fc.assert(…, { seed, path })`) and the
 * shrunk counterexample; every run is one or a few requests, so shrinking
 * stays within the test's timeout.
 */
export function fcParams(numRuns: number): fc.Parameters<unknown> {
  return { numRuns: runs(numRuns) };
}

/** Test timeout for a property of `numRuns` runs, with room for shrinking. */
export function timeoutFor(numRuns: number, msPerRun = 60): number {
  return 60_000 + runs(numRuns) * msPerRun * 4;
}

// ---------------------------------------------------------------------------
// Offline delivery

/**
 * `POST …/test` sends a real request. The harness's app resolves names with
 * the system resolver; this rebuilds it (after the harness's own beforeAll)
 * with a resolver that answers a documentation address for every name, so
 * every test delivery is refused as `blocked_destination` before any socket
 * is opened. Webhook URLs the suite creates use names, never public IPs.
 */
export function useOfflineDelivery(h: Harness): void {
  beforeAll(async () => {
    await h.app.close();
    await h.delivery.close();
    h.delivery = createDeliveryContext(h.config, {
      resolver: async () => [{ address: '192.0.2.1', family: 4 }],
    });
    h.app = await buildApp({
      config: h.config,
      database: h.database,
      clock: h.clock,
      logger: createLogger('silent'),
      delivery: h.delivery,
      metrics: h.metrics,
    });
    await h.app.ready();
  });
}

// ---------------------------------------------------------------------------
// Process health

/**
 * Records uncaught exceptions and unhandled rejections while the suite runs:
 * a request that crashes the process in the background (a timer, a stream
 * callback) would not show up as a failed response.
 */
export function watchProcess(): {
  errors: unknown[];
  expectHealthy: (h: Harness) => Promise<void>;
} {
  const errors: unknown[] = [];
  const onError = (error: unknown) => errors.push(error);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    errors,
    async expectHealthy(h) {
      expect(errors, 'uncaught exceptions or unhandled rejections').toEqual([]);
      const health = await h.request({ method: 'GET', url: '/healthz' });
      expect(health.statusCode).toBe(200);
      const ready = await h.request({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode, ready.body).toBe(200);
    },
  };
}

// ---------------------------------------------------------------------------
// The contract of every answer

export type Res = Awaited<ReturnType<Harness['request']>>;

/**
 * The methods the harness's inject is typed with. The fuzzer's methods are
 * plain strings (it sends ones no route declares), so they are cast to it.
 */
type InjectMethod = NonNullable<Parameters<Harness['request']>[0]['method']>;

export interface Outgoing {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

const DETAIL_IN = new Set(['body', 'query', 'params', 'headers']);

export function describeRequest(req: Outgoing, res?: Res): string {
  const payload =
    req.payload === undefined
      ? ''
      : Buffer.isBuffer(req.payload)
        ? `<${req.payload.length} bytes> ${req.payload.subarray(0, 200).toString('hex')}`
        : `<${req.payload.length} chars> ${req.payload.slice(0, 300)}`;
  const headers = JSON.stringify(req.headers).slice(0, 300);
  const answer = res ? ` -> ${res.statusCode} ${res.body.slice(0, 400)}` : '';
  return `${req.method} ${req.url.slice(0, 300)} ${headers} ${payload}${answer}`;
}

/**
 * Never a 5xx; a 4xx is `{error: {code, message, details}}` with a code of
 * src/errors.ts and exactly the status that code declares; a 2xx JSON body
 * parses.
 */
export function checkAnswer(req: Outgoing, res: Res): void {
  const label = describeRequest(req, res);
  expect(res.statusCode, label).toBeGreaterThanOrEqual(200);
  expect(res.statusCode, label).toBeLessThan(500);
  const type = String(res.headers['content-type'] ?? '');
  if (res.statusCode >= 400) {
    if (req.method === 'HEAD') return; // no body, by definition
    expect(type, label).toMatch(/^application\/json/);
    let body: any;
    try {
      body = JSON.parse(res.body);
    } catch {
      throw new Error(`error answer is not JSON: ${label}`);
    }
    expect(Object.keys(body), label).toEqual(['error']);
    expect(Object.keys(body.error).sort(), label).toEqual(['code', 'details', 'message']);
    const { code, message, details } = body.error;
    expect(Object.keys(ERRORS), label).toContain(code);
    expect(res.statusCode, label).toBe(ERRORS[code as keyof typeof ERRORS].status);
    expect(typeof message, label).toBe('string');
    expect(message.length, label).toBeGreaterThan(0);
    expect(Array.isArray(details), label).toBe(true);
    for (const d of details) {
      expect(typeof d.field, label).toBe('string');
      expect(typeof d.message, label).toBe('string');
      if (d.in !== undefined) expect(DETAIL_IN.has(d.in), label).toBe(true);
      if (d.code !== undefined) expect(Object.keys(DETAIL_CODES), label).toContain(d.code);
      for (const key of Object.keys(d)) {
        expect(['field', 'message', 'in', 'code'], label).toContain(key);
      }
    }
    return;
  }
  if (type.startsWith('application/json') && req.method !== 'HEAD' && res.body !== '') {
    try {
      JSON.parse(res.body);
    } catch {
      throw new Error(`2xx JSON answer does not parse: ${label}`);
    }
  }
}

export function errorOf(res: Res): { code: string; fields: string[] } {
  const body = JSON.parse(res.body);
  return {
    code: body.error.code,
    fields: body.error.details.map((d: { field: string }) => d.field),
  };
}

export const is2xx = (res: Res): boolean => res.statusCode >= 200 && res.statusCode < 300;

// ---------------------------------------------------------------------------
// Database snapshots

const tableCache = new WeakMap<object, Promise<TableMetadata[]>>();

/** The database's tables and columns (introspected once per database). */
export function tablesOf(h: Harness): Promise<TableMetadata[]> {
  let tables = tableCache.get(h.db);
  if (!tables) {
    tables = h.db.introspection.getTables();
    tableCache.set(h.db, tables);
  }
  return tables;
}

/** `api_keys.last_used_at` is refreshed by authentication itself, even on a rejected request. */
const VOLATILE_COLUMNS = new Set(['api_keys.last_used_at']);

export interface DbSnapshot {
  counts: Record<string, number>;
  checksums: Record<string, string>;
}

function canonical(value: unknown): string {
  if (value === null || value === undefined) return 'N';
  if (typeof value === 'bigint') return `n${value}`;
  if (typeof value === 'number') return `n${value}`;
  if (Buffer.isBuffer(value)) return `b${value.toString('hex')}`;
  if (value instanceof Date) return `d${value.toISOString()}`;
  return `s${JSON.stringify(typeof value === 'string' ? value : JSON.stringify(value))}`;
}

/**
 * Snapshots of every table of the database (found by introspection, so new
 * tables are covered): its row count and a checksum of its rows. The last
 * snapshot is reused as the next "before" while nothing could have written
 * in between; anything that writes outside `send` calls `invalidate()`.
 */
export class DbWatch {
  private tables: { name: string; columns: string[] }[] | undefined;
  private last: DbSnapshot | undefined;
  /** Answers by `status code`, printed by `report()` when HOOKDESK_FUZZ_STATS is set. */
  readonly stats = new Map<string, number>();

  constructor(private readonly h: Harness) {}

  report(title: string): void {
    if (!process.env.HOOKDESK_FUZZ_STATS) return;
    const lines = [...this.stats].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${n}\t${k}`);
    process.stdout.write(`${title} [${this.h.dialect}]\n${lines.join('\n')}\n`);
  }

  invalidate(): void {
    this.last = undefined;
  }

  async snapshot(): Promise<DbSnapshot> {
    this.tables ??= (await tablesOf(this.h))
      .filter((t) => !t.isView)
      .map((t) => ({
        name: t.name,
        columns: t.columns
          .map((c) => c.name)
          .filter((c) => !VOLATILE_COLUMNS.has(`${t.name}.${c}`))
          .sort(),
      }));
    const results =
      this.h.dialect === 'postgres'
        ? await this.postgresSums(this.tables)
        : await this.sqliteSums(this.tables);
    return {
      counts: Object.fromEntries(results.map(([name, count]) => [name, count])),
      checksums: Object.fromEntries(results.map(([name, , sum]) => [name, sum])),
    };
  }

  /** One statement for every table: a round trip per table is most of a request's cost on PostgreSQL. */
  private async postgresSums(tables: { name: string; columns: string[] }[]) {
    const selects = tables.map((t) => {
      const row = sql`row(${sql.join(t.columns.map((c) => sql.ref(c)))})::text`;
      return sql`select ${sql.lit(t.name)} as name, count(*)::int as n,
        md5(coalesce(string_agg(${row}, chr(10) order by ${row}), '')) as sum
        from ${sql.table(t.name)}`;
    });
    const { rows } = await sql<{ name: string; n: number; sum: string }>`${sql.join(
      selects,
      sql` union all `,
    )}`.execute(this.h.db);
    return rows.map((r) => [r.name, Number(r.n), r.sum] as const);
  }

  private async sqliteSums(tables: { name: string; columns: string[] }[]) {
    return Promise.all(
      tables.map(async (t) => {
        const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(
          t.name,
        )}`.execute(this.h.db);
        const lines = rows.map((row) => t.columns.map((c) => canonical(row[c])).join('|')).sort();
        const hash = createHash('sha256');
        for (const line of lines) hash.update(line).update('\n');
        return [t.name, rows.length, hash.digest('hex').slice(0, 16)] as const;
      }),
    );
  }

  /**
   * Sends one request and checks its answer; when it is not a 2xx (or
   * `mustNotWrite`: malformed input a public endpoint acknowledges anyway),
   * the database must be exactly as before.
   */
  async send(req: Outgoing, opts: { mustNotWrite?: boolean } = {}): Promise<Res> {
    const before = this.last ?? (await this.snapshot());
    this.last = undefined;
    let res: Res;
    try {
      res = await this.h.request({
        method: req.method as InjectMethod,
        url: req.url,
        headers: req.headers,
        ...(req.payload !== undefined ? { payload: req.payload } : {}),
      });
    } catch (error) {
      throw new Error(`inject failed (the app threw): ${describeRequest(req)}`, { cause: error });
    }
    checkAnswer(req, res);
    const code = res.statusCode >= 400 && res.body !== '' ? errorOf(res).code : '';
    const statKey = `${res.statusCode} ${code}`;
    this.stats.set(statKey, (this.stats.get(statKey) ?? 0) + 1);
    if (!is2xx(res) || opts.mustNotWrite === true) {
      const after = await this.snapshot();
      const what = is2xx(res) ? 'malformed input' : 'rejected request';
      expect(after, `${what} changed the database: ${describeRequest(req, res)}`).toEqual(before);
      this.last = after;
    }
    return res;
  }
}

// ---------------------------------------------------------------------------
// Two organizations of real rows

/** Questions of every fixture survey; none required, so any subset of answers is a valid partial response. */
export const FIXTURE_QUESTIONS = [
  { id: 'score', type: 'rating', title: 'How did we do?', scale: 5 },
  { id: 'nps', type: 'nps', title: 'Would you recommend us?' },
  { id: 'comment', type: 'text', title: 'Anything else?' },
  {
    id: 'channel',
    type: 'single_choice',
    title: 'How did you reach us?',
    choices: [
      { id: 'mail', label: 'Email' },
      { id: 'phone', label: 'Phone' },
    ],
  },
  {
    id: 'topics',
    type: 'multi_choice',
    title: 'Topics',
    choices: [
      { id: 'billing', label: 'Billing' },
      { id: 'bugs', label: 'Bugs' },
      { id: 'other', label: 'Other' },
    ],
  },
] as const;

export const PUBLIC_WEBHOOK_URL = 'https://hooks.example.com/hookdesk';

export interface Tenant {
  readonly label: 'A' | 'B';
  readonly org: Org;
  readonly organizationId: string;
  readonly adminKey: string;
  readonly agentKey: string;
  readonly revokedKey: string;
  /** The users and API keys the suite authenticates with: never offered as path ids. */
  readonly protectedIds: Set<string>;
  /** The admin's and the agent's user ids (valid assignees and authors). */
  readonly signInUserIds: readonly string[];
  /** Ids of this organization's rows, by table. */
  ids: Record<string, string[]>;
  /** Survey responses not completed yet, for PATCH. */
  partialResponses: string[];
}

const expectCreated = (res: Res, what: string): any => {
  expect(res.statusCode, `${what}: ${res.body}`).toBeLessThan(300);
  return res.body === '' ? undefined : res.json();
};

export class World {
  private counter = 0;
  private constructor(
    private readonly h: Harness,
    private readonly watch: DbWatch,
    readonly tenants: readonly [Tenant, Tenant],
  ) {}

  static async create(h: Harness, watch: DbWatch): Promise<World> {
    const make = async (label: 'A' | 'B'): Promise<Tenant> => {
      const org = await h.createOrg(`Fuzz ${label}`);
      const api = (opts: { method: string; url: string; payload?: unknown }) =>
        h.request({ ...(opts as { method: 'POST'; url: string }), key: org.apiKey });
      const agent = expectCreated(
        await api({
          method: 'POST',
          url: '/api/users',
          payload: { email: `agent-${label.toLowerCase()}@example.com`, name: 'Agent' },
        }),
        'agent',
      );
      const agentKey = expectCreated(
        await api({
          method: 'POST',
          url: '/api/api-keys',
          payload: { name: 'agent', userId: agent.id },
        }),
        'agent key',
      );
      const revoked = expectCreated(
        await api({ method: 'POST', url: '/api/api-keys', payload: { name: 'revoked' } }),
        'revoked key',
      );
      expectCreated(await api({ method: 'DELETE', url: `/api/api-keys/${revoked.id}` }), 'revoke');
      const adminKeyRow = await h.db
        .selectFrom('api_keys')
        .select('id')
        .where('user_id', '=', org.adminUserId)
        .where('revoked_at', 'is', null)
        .execute();
      return {
        label,
        org,
        organizationId: org.organizationId,
        adminKey: org.apiKey,
        agentKey: agentKey.key,
        revokedKey: revoked.key,
        protectedIds: new Set([
          org.adminUserId,
          agent.id,
          agentKey.id,
          ...adminKeyRow.map((r) => r.id),
        ]),
        signInUserIds: [org.adminUserId, agent.id],
        ids: {},
        partialResponses: [],
      };
    };
    const world = new World(h, watch, [await make('A'), await make('B')]);
    await world.refresh();
    return world;
  }

  /** The tenant of an organization's key, and the other one. */
  pair(label: 'A' | 'B'): { own: Tenant; other: Tenant } {
    const [a, b] = this.tenants;
    return label === 'A' ? { own: a, other: b } : { own: b, other: a };
  }

  /** Real ids of the tenant's rows by table, for id fields of valid bodies (signed-in users included). */
  bodyIds(t: Tenant): (table: string) => string[] {
    return (table) => [...(t.ids[table] ?? []), ...(table === 'users' ? t.signInUserIds : [])];
  }

  /** Every id of a tenant's rows (all tables), for "does this answer leak" checks. */
  allIds(t: Tenant): string[] {
    return [t.organizationId, ...Object.values(t.ids).flat()];
  }

  /**
   * Re-reads every tenant's ids and re-creates what the fuzzing deleted or
   * used up, so later runs still reach deep code with real ids.
   */
  async refresh(): Promise<void> {
    for (const t of this.tenants) {
      await this.readIds(t);
      if (await this.replenish(t)) await this.readIds(t);
    }
    this.watch.invalidate();
  }

  private async readIds(t: Tenant): Promise<void> {
    const tables = (await tablesOf(this.h)).filter((table) => {
      const cols = new Set(table.columns.map((c) => c.name));
      return cols.has('id') && cols.has('organization_id');
    });
    const selects = tables.map(
      (table) =>
        sql`select ${sql.lit(table.name)} as t, id, ${sql.lit(0)} as partial from ${sql.table(
          table.name,
        )} where organization_id = ${t.organizationId}`,
    );
    const partial = sql`select 'partial' as t, id, 1 as partial from survey_responses
      where organization_id = ${t.organizationId} and completed_at is null`;
    const { rows } = await sql<{ t: string; id: string }>`${sql.join(
      [...selects, partial],
      sql` union all `,
    )} order by t, id`.execute(this.h.db);
    const ids: Record<string, string[]> = { organizations: [t.organizationId] };
    for (const table of tables) ids[table.name] = [];
    t.partialResponses = [];
    for (const row of rows) {
      if (t.protectedIds.has(row.id)) continue;
      if (row.t === 'partial') t.partialResponses.push(row.id);
      else ids[row.t]?.push(row.id);
    }
    t.ids = ids;
  }

  /** Creates one of each kind of row the tenant lacks; true when it created any. */
  private async replenish(t: Tenant): Promise<boolean> {
    const { h } = this;
    const n = () => `${t.label.toLowerCase()}${++this.counter}`;
    const api = async (method: string, url: string, payload?: unknown) =>
      expectCreated(
        await h.request({
          method: method as InjectMethod,
          url,
          key: t.adminKey,
          ...(payload !== undefined ? { payload: payload as object } : {}),
        }),
        `${method} ${url}`,
      );
    const has = (table: string) => (t.ids[table]?.length ?? 0) > 0;
    let created = false;

    if (!has('users')) {
      await api('POST', '/api/users', { email: `victim-${n()}@example.com`, name: 'Victim' });
      created = true;
    }
    if (!has('api_keys')) {
      await api('POST', '/api/api-keys', { name: `victim-${n()}` });
      created = true;
    }
    if (!has('contacts')) {
      await api('POST', '/api/contacts', { email: `contact-${n()}@example.com`, name: 'Pat' });
      created = true;
    }
    if (!has('tickets') || !has('messages')) {
      const ticket = await api('POST', '/api/tickets', {
        subject: 'Printer on fire',
        requester: { email: `requester-${n()}@example.com` },
      });
      await api('POST', `/api/tickets/${ticket.id}/messages`, { body: 'On it.' });
      created = true;
    }
    let surveyId = t.ids.surveys?.[0];
    if (surveyId === undefined) {
      surveyId = (await api('POST', '/api/surveys', { name: 'CSAT', questions: FIXTURE_QUESTIONS }))
        .id as string;
      // A completed response too: PATCHing it must answer 409.
      await api('POST', `/api/surveys/${surveyId}/responses`, {
        answers: { channel: { choiceIds: ['mail'] } },
      });
      created = true;
    }
    if (t.partialResponses.length === 0) {
      // Valid for any survey (the fuzzer may have changed its questions): nothing is required yet.
      await api('POST', `/api/surveys/${surveyId}/responses`, { answers: {}, completed: false });
      created = true;
    }
    const hooks = await h.db
      .selectFrom('webhooks')
      .select(['id', 'survey_id', 'active'])
      .where('organization_id', '=', t.organizationId)
      .execute();
    const hook = async (url: string, body: Record<string, unknown>) => {
      const row = await api('POST', url, { name: 'hook', url: PUBLIC_WEBHOOK_URL, ...body });
      await insertDelivery(h, t.organizationId, row.id as string, 'pending');
      await insertDelivery(h, t.organizationId, row.id as string, 'failed');
      created = true;
    };
    if (!hooks.some((w) => w.survey_id === null && w.active === 1)) {
      await hook('/api/webhooks', { events: [...TICKET_EVENT_TYPES] });
    }
    if (!hooks.some((w) => w.survey_id === surveyId && w.active === 1)) {
      await hook(`/api/surveys/${surveyId}/webhooks`, {});
    }
    if (!has('notifications')) {
      await h.db
        .insertInto('notifications')
        .values({
          id: newId(),
          organization_id: t.organizationId,
          user_id: t.org.adminUserId,
          type: 'webhook_disabled',
          title: 'A webhook was disabled',
          body: 'It failed 10 times in a row.',
          data: '{}',
          read_at: null,
          created_at: h.clock.now(),
        })
        .execute();
      created = true;
    }
    return created;
  }
}

// ---------------------------------------------------------------------------
// Routes

export interface Route {
  method: string;
  /** OpenAPI template, `/api/tickets/{id}/messages`. */
  path: string;
  params: string[];
  query: string[];
  hasBody: boolean;
  /** No API key needed (`security: []` in OpenAPI, or one of the hidden public endpoints). */
  public: boolean;
  /** The JSON Schema of the body, when OpenAPI gives one. */
  bodySchema: Record<string, any> | undefined;
}

/** Public endpoints that are hidden from the OpenAPI document. */
export const HIDDEN_PUBLIC_ROUTES: readonly string[] = [
  '/healthz',
  '/readyz',
  '/openapi.json',
  '/docs',
  '/docs/',
  '/docs/json',
  '/docs/yaml',
  '/docs/static/index.html',
  '/metrics',
];

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Every route the app describes in /openapi.json, and the hidden public ones. */
export async function discoverRoutes(h: Harness): Promise<Route[]> {
  const res = await h.request({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  const doc = res.json();
  const routes: Route[] = [];
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const parameters: { in: string; name: string }[] = [
        ...(item.parameters ?? []),
        ...(op.parameters ?? []),
      ];
      // A provider callback's body is described for readers but parsed by the
      // route in the provider's terms: not a body the contract validates.
      const validated = op.requestBody !== undefined && !op.requestBody[DOCUMENTATION_ONLY];
      const bodySchema = validated
        ? op.requestBody.content?.['application/json']?.schema
        : undefined;
      routes.push({
        method: method.toUpperCase(),
        path,
        params: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!),
        query: parameters.filter((p) => p.in === 'query').map((p) => p.name),
        hasBody: validated,
        public: Array.isArray(op.security) && op.security.length === 0,
        bodySchema,
      });
    }
  }
  expect(routes.length, 'routes in /openapi.json').toBeGreaterThan(30);
  for (const path of HIDDEN_PUBLIC_ROUTES) {
    routes.push({
      method: 'GET',
      path,
      params: [],
      query: [],
      hasBody: false,
      public: true,
      bodySchema: undefined,
    });
  }
  return routes;
}

/** The table a path parameter's ids come from: `surveyId` → surveys, `{id}` after `/responses/` → survey_responses. */
export function tableForParam(route: Route, param: string, tables: string[]): string | undefined {
  let word: string;
  if (param !== 'id') {
    word = param.replace(/Id$/, '');
    word = /[^aeiou]y$/.test(word) ? `${word.slice(0, -1)}ies` : `${word}s`;
  } else {
    const segments = route.path.split('/');
    const at = segments.indexOf('{id}');
    word = segments[at - 1] ?? '';
  }
  const name = word
    .replace(/-/g, '_')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
  return tables.find((t) => t === name) ?? tables.find((t) => t.endsWith(`_${name}`));
}

// ---------------------------------------------------------------------------
// Encoding helpers

/** Percent-encodes the UTF-8 bytes of `s` (lone surrogates become U+FFFD, as in any UTF-8 encoder). */
export function pct(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Body values JSON.stringify cannot produce (nesting deeper than the test's
 * own stack allows, strings holding invalid UTF-8) travel through the body as
 * marker objects `{"\u0001raw": spec}` and are spliced in as raw text or
 * bytes by `render`. The spec is `deep:<array|object|mixed>:<depth>` or
 * `utf8:<hex bytes>`; nothing is kept between runs.
 */
export const RAW_KEY = '\u0001raw';
export type RawMarker = { [RAW_KEY]: string };
export const rawMarker = (spec: string): RawMarker => ({ [RAW_KEY]: spec });

function isMarker(value: unknown): value is RawMarker {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>)[RAW_KEY] === 'string'
  );
}

function rawOf(spec: string): string | Buffer {
  const [kind, a, b] = spec.split(':');
  if (kind === 'deep') return deepJson(Number(b), a as 'array');
  if (kind === 'huge') {
    const c = String.fromCodePoint(parseInt(b ?? '78', 16));
    return JSON.stringify(c.repeat(Math.ceil(Number(a) / c.length)));
  }
  return Buffer.concat([Buffer.from('"a'), Buffer.from(a ?? '', 'hex'), Buffer.from('b"')]);
}

const PLACEHOLDER = /"\\u0001([a-z0-9:]+)\\u0001"/g;

/** JSON text of `value` with raw markers spliced in; a Buffer when any of them is bytes. */
export function render(value: unknown): string | Buffer {
  const text =
    JSON.stringify(value, (_key, v: unknown) => (isMarker(v) ? `\u0001${v[RAW_KEY]}\u0001` : v)) ??
    'null';
  const chunks: (string | Buffer)[] = [];
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    chunks.push(text.slice(last, m.index), rawOf(m[1]!));
    last = m.index + m[0].length;
  }
  if (chunks.length === 0) return text;
  chunks.push(text.slice(last));
  if (chunks.every((c) => typeof c === 'string')) return chunks.join('');
  return Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
}

/** `depth` levels of nested arrays or objects as JSON text, built without recursion. */
export function deepJson(depth: number, kind: 'array' | 'object' | 'mixed'): string {
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    const obj = kind === 'object' || (kind === 'mixed' && i % 2 === 1);
    open.push(obj ? '{"a":' : '[');
    close.push(obj ? '}' : ']');
  }
  return `${open.join('')}1${close.reverse().join('')}`;
}

// ---------------------------------------------------------------------------
// Arbitraries: values

/** Strings that have broken parsers, databases and loggers before. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\t',
  '\r\n',
  '\u2028\u2029',
  '\ufeff',
  '\u200b',
  '\ud800',
  '\udfff',
  '\ud83d\ude00',
  '\u202e',
  '\u0085',
  '\u007f',
  '\u0001',
  'null',
  'undefined',
  'true',
  'NaN',
  '-0',
  '1e400',
  '0x10',
  "' OR '1'='1",
  '"; DROP TABLE users; --',
  '\\',
  '\\u0000',
  '%00',
  '%s%s%s%n',
  '{{7*7}}',
  '${process.exit()}',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'İstanbul',
  'ß'.repeat(100),
  'ﷺ',
  'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇',
  '00000000-0000-0000-0000-000000000000',
  '2026-02-30T25:61:61Z',
  '+1 (555) 010-2000',
  'a@b',
  'Ann@Example.COM',
  'x'.repeat(201),
  'x'.repeat(501),
];

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY_STRINGS), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }), weight: 1 },
  { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
);

/**
 * Long strings, up to a bit over the default 1 MiB body limit, as raw markers
 * (see `render`) so that a failing counterexample prints `huge:1100000:78`,
 * not the string.
 */
export const hugeString: fc.Arbitrary<RawMarker> = fc
  .tuple(
    fc.constantFrom(1_001, 10_001, 100_001, 500_001, 1_100_000),
    fc.constantFrom('x', 'é', '😀', '\\', '"'),
  )
  .map(([n, c]) => rawMarker(`huge:${n}:${c.codePointAt(0)!.toString(16)}`));

/** Depths around and past what JSON parsers, validators and serializers handle recursively. */
export const nestingDepth = fc.constantFrom(64, 1_000, 3_000, 5_000, 10_000, 12_000);

/** Byte sequences that are not UTF-8: stray continuation bytes, overlongs, surrogates, truncations. */
export const invalidUtf8: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom(
    Buffer.from([0xff]),
    Buffer.from([0xfe, 0xff]),
    Buffer.from([0x80]),
    Buffer.from([0xc0, 0xaf]),
    Buffer.from([0xc0, 0x80]),
    Buffer.from([0xe0, 0x80, 0xaf]),
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0xf4, 0x90, 0x80, 0x80]),
    Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
    Buffer.from([0xe2, 0x82]),
    Buffer.from([0xf0, 0x9f, 0x98]),
  ),
  fc.uint8Array({ minLength: 1, maxLength: 8, min: 0x80, max: 0xff }).map((a) => Buffer.from(a)),
);

/** A raw marker (see `render`): deep nesting, or a string holding invalid UTF-8. */
export const rawValue: fc.Arbitrary<RawMarker> = fc.oneof(
  fc
    .tuple(nestingDepth, fc.constantFrom('array', 'object', 'mixed'))
    .map(([depth, kind]) => rawMarker(`deep:${kind}:${depth}`)),
  invalidUtf8.map((bytes) => rawMarker(`utf8:${bytes.toString('hex')}`)),
);

/** A value of the wrong shape for almost any field. */
export const badValue: fc.Arbitrary<unknown> = fc.oneof(
  {
    arbitrary: fc.constantFrom<unknown>(
      null,
      true,
      false,
      0,
      -1,
      1.5,
      -0,
      1e308,
      Number.MAX_SAFE_INTEGER + 2,
      [],
      {},
      [null],
      { '': '' },
      [[[[]]]],
    ),
    weight: 4,
  },
  { arbitrary: nastyString, weight: 4 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 2 },
  { arbitrary: hugeString, weight: 1 },
  { arbitrary: rawValue, weight: 1 },
);

// ---------------------------------------------------------------------------
// Arbitraries: request framing

export const JSON_CONTENT_TYPES: readonly string[] = [
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON',
  'application/json;charset=UTF-8',
];

/** Content types that are not `application/json`, or are it in spellings a parser may trip on. */
export const OTHER_CONTENT_TYPES: readonly string[] = [
  'text/plain',
  'text/json',
  'text/html',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'application/problem+json',
  'application/vnd.api+json',
  'application/json-patch+json',
  'application/jsonx',
  'application/json, text/plain',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset="',
  'application/json; ;;',
  'application/',
  '*/*',
  'json',
  ';',
  ' ',
  'application/json\t',
];

export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constantFrom(...JSON_CONTENT_TYPES), weight: 6 },
  { arbitrary: fc.constantFrom(...OTHER_CONTENT_TYPES), weight: 3 },
  { arbitrary: fc.constant(undefined), weight: 1 },
  { arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 30 }), weight: 1 },
);

/** Raw path segments, inserted verbatim: bad percent-encoding, overlong UTF-8, traversal, length. */
export const RAW_SEGMENTS: readonly string[] = [
  '',
  '%00',
  '%zz',
  '%',
  '%C0%AF',
  '%ED%A0%80',
  '%FF',
  '%E2%82',
  '..',
  '%2e%2e',
  '%2F',
  '%252e',
  'null',
  '0',
  '-1',
  '1e400',
  '*',
  '__proto__',
  'constructor',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  "'%20OR%20'1'%3D'1",
  '%F0%9F%92%A9',
  '%E2%80%AE',
  'x'.repeat(100),
  'x'.repeat(101),
  'x'.repeat(5000),
  '%41'.repeat(101),
];

export const garbageSegment: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...RAW_SEGMENTS), weight: 3 },
  { arbitrary: nastyString.map(pct), weight: 2 },
  { arbitrary: fc.uuid().map(String), weight: 1 },
  {
    arbitrary: fc
      .uint8Array({ minLength: 1, maxLength: 6 })
      .map((a) => [...a].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
    weight: 1,
  },
);

/** Who asks: the tenant's admin or agent key, no key, a malformed header, or a revoked key. */
export type AuthKind = 'admin' | 'agent' | 'none' | 'garbage' | 'revoked';

export const GARBAGE_AUTH: readonly string[] = [
  'Bearer',
  'Bearer ',
  'Bearer hdk_',
  'Bearer hdk_0000000000000000000000000000000000000000',
  'Basic YWRtaW46YWRtaW4=',
  'bearer x y',
  'Token abc',
  'Bearer ' + 'k'.repeat(5000),
  'Bearer \u00e9\u00e8',
  '',
];

// ---------------------------------------------------------------------------
// Arbitraries: valid bodies of the known shapes

const word = fc.stringMatching(/^[a-z0-9]{1,12}$/);
export const email = fc
  .tuple(word, fc.constantFrom('example.com', 'example.org', 'mail.example.net'))
  .map(([local, domain]) => `${local}@${domain}`);
export const phone = fc.integer({ min: 1_000_000, max: 9_999_999 }).map((n) => `+1555${n}`);
export const text = (max = 40) =>
  fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: max })
    .filter((s) => !s.includes('\u0000') && s.trim() !== '');
const tags = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), { maxLength: 5 });
const priority = fc.constantFrom('low', 'normal', 'high', 'urgent');
const status = fc.constantFrom('open', 'pending', 'resolved', 'closed');
const channel = fc.constantFrom('email', 'sms', 'whatsapp', 'web', 'api');
const freeObject = fc.dictionary(
  fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,10}$/),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 4 },
);

export const validHeaderName = fc.stringMatching(/^X-[A-Za-z0-9-]{1,20}$/);
const validHeaders = fc.dictionary(validHeaderName, fc.stringMatching(/^[ -~]{0,40}$/), {
  maxKeys: 3,
});
/** A public host name; the offline resolver keeps deliveries to it from leaving the machine. */
export const publicUrl = fc
  .tuple(
    fc.constantFrom('hooks.example.com', 'api.example.org', 'HOOKS.Example.NET', 'x.example.com.'),
    fc.stringMatching(/^[a-z0-9/_-]{0,20}$/),
  )
  .map(([host, path]) => `https://${host}/${path}`);

const answers = fc.record(
  {
    score: fc.integer({ min: 1, max: 5 }).map((value) => ({ value })),
    nps: fc.integer({ min: 0, max: 10 }).map((value) => ({ value })),
    comment: text(100).map((value) => ({ value })),
    channel: fc.constantFrom('mail', 'phone').map((id) => ({ choiceIds: [id] })),
    topics: fc
      .subarray(['billing', 'bugs', 'other'], { minLength: 1 })
      .map((choiceIds) => ({ choiceIds })),
  },
  { requiredKeys: [] },
);

const question = fc.oneof(
  fc.record(
    {
      type: fc.constant('rating'),
      title: text(),
      scale: fc.integer({ min: 2, max: 10 }),
      required: fc.boolean(),
    },
    { requiredKeys: ['type', 'title'] },
  ),
  fc.record(
    { type: fc.constantFrom('nps', 'text'), title: text(), required: fc.boolean() },
    { requiredKeys: ['type', 'title'] },
  ),
  fc.record({
    type: fc.constantFrom('single_choice', 'multi_choice'),
    title: text(),
    choices: fc
      .uniqueArray(fc.stringMatching(/^[a-z0-9_-]{1,10}$/), { minLength: 2, maxLength: 4 })
      .map((ids) => ids.map((id) => ({ id, label: id.toUpperCase() }))),
  }),
);
const questions = fc
  .array(question, { minLength: 1, maxLength: 4 })
  .map((qs) => qs.map((q, i) => ({ id: `q${i}`, ...q })));

const webhookFields = (kind: 'ticket' | 'survey') => ({
  name: text(),
  url: publicUrl,
  events: fc.subarray([...(kind === 'ticket' ? TICKET_EVENT_TYPES : SURVEY_EVENT_TYPES)], {
    minLength: 1,
  }),
  // Standard Webhooks form: base64 of 24–48 bytes (docs/api.md, "Webhooks").
  secret: fc.option(fc.stringMatching(/^whsec_(?:[a-zA-Z0-9]{4}){8,16}$/), { nil: null }),
  headers: validHeaders,
  active: fc.boolean(),
  retryPolicy: fc.array(fc.integer({ min: 1, max: 604_800 }), { maxLength: 10 }),
});

/**
 * Valid bodies of every known body shape, by route (`METHOD /openapi/path`).
 * `ids` gives real ids of the caller's organization for id fields.
 */
export function validBodies(
  ids: (table: string) => string[],
): Record<string, fc.Arbitrary<Record<string, unknown>>> {
  const pool = ids('users');
  const users = pool.length > 0 ? fc.constantFrom(...pool) : fc.uuid().map(String);
  const requester = fc.oneof(
    fc.record({ email, name: text() }, { requiredKeys: ['email'] }),
    fc.record({ phone, name: text() }, { requiredKeys: ['phone'] }),
    fc.record({ email, phone }),
  );
  return {
    'POST /api/users': fc.record(
      { email, name: text(), role: fc.constantFrom('admin', 'agent') },
      { requiredKeys: ['email', 'name'] },
    ),
    'PATCH /api/users/{id}': fc.record(
      { email, name: text(), role: fc.constantFrom('admin', 'agent') },
      { requiredKeys: [] },
    ),
    'POST /api/api-keys': fc.record({ name: text(), userId: users }, { requiredKeys: ['name'] }),
    'POST /api/contacts': fc.oneof(
      fc.record({ email, name: text() }, { requiredKeys: ['email'] }),
      fc.record({ phone, email, name: text() }, { requiredKeys: ['phone'] }),
    ),
    'PATCH /api/contacts/{id}': fc.record(
      { email, phone: fc.option(phone, { nil: null }), name: fc.option(text(), { nil: null }) },
      { requiredKeys: [] },
    ),
    'POST /api/tickets': fc.record(
      {
        subject: text(100),
        description: text(200),
        priority,
        requester,
        assigneeId: users,
        tags,
        channel,
      },
      { requiredKeys: ['subject', 'requester'] },
    ),
    'PATCH /api/tickets/{id}': fc.record(
      {
        subject: text(100),
        priority,
        status,
        assigneeId: fc.option(users, { nil: null }),
        tags,
      },
      { requiredKeys: [] },
    ),
    'POST /api/tickets/{id}/messages': fc.record(
      {
        body: text(200),
        bodyHtml: text(200).map((t) => `<p>${t}</p>`),
        direction: fc.constantFrom('outbound', 'inbound'),
        authorId: users,
        channel,
      },
      { requiredKeys: ['body'] },
    ),
    'POST /api/surveys': fc.record({ name: text(), questions }),
    'PATCH /api/surveys/{id}': fc.record(
      { name: text(), questions: fc.constant(FIXTURE_QUESTIONS) },
      { requiredKeys: [] },
    ),
    'POST /api/surveys/{id}/responses': fc.record(
      { answers, embeddedData: freeObject, metadata: freeObject, completed: fc.boolean() },
      { requiredKeys: ['answers'] },
    ),
    'PATCH /api/surveys/{id}/responses/{responseId}': fc.record(
      { answers, embeddedData: freeObject, metadata: freeObject, completed: fc.boolean() },
      { requiredKeys: [] },
    ),
    'POST /api/webhooks': fc.record(webhookFields('ticket'), {
      requiredKeys: ['name', 'url', 'events'],
    }),
    'PATCH /api/webhooks/{id}': fc.record(webhookFields('ticket'), { requiredKeys: [] }),
    'POST /api/surveys/{surveyId}/webhooks': fc.record(webhookFields('survey'), {
      requiredKeys: ['name', 'url'],
    }),
    'PATCH /api/surveys/{surveyId}/webhooks/{id}': fc.record(webhookFields('survey'), {
      requiredKeys: [],
    }),
    // Bodiless actions still receive bodies from the fuzzer.
    'POST /api/notifications/{id}/read': fc.constant({}),
    'POST /api/webhooks/{id}/test': fc.constant({}),
  };
}

// ---------------------------------------------------------------------------
// Field-by-field mutation

export type Mutation =
  | { op: 'delete'; pick: number }
  | { op: 'set'; pick: number; value: unknown }
  | { op: 'add'; pick: number; key: string; value: unknown }
  | { op: 'replaceBody'; value: unknown };

/** Every path of a JSON value (objects and arrays, root excluded), depth-first. */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []) {
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const key = Array.isArray(value) ? Number(k) : k;
      out.push([...prefix, key]);
      if (out.length < 200) paths(v, [...prefix, key], out);
    }
  }
  return out;
}

function containers(
  value: unknown,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
) {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    out.push(prefix);
    for (const [k, v] of Object.entries(value)) {
      if (out.length < 50) containers(v, [...prefix, k], out);
    }
  }
  return out;
}

/** The dotted field name of a path, as the API reports it (`questions[0].id`). */
export function fieldName(path: (string | number)[]): string {
  let out = '';
  for (const p of path) out = typeof p === 'number' ? `${out}[${p}]` : out ? `${out}.${p}` : p;
  return out;
}

/** Applies mutations to a deep copy of `body`; returns the body and the fields touched. */
export function mutate(
  body: Record<string, unknown>,
  mutations: readonly Mutation[],
): { body: unknown; touched: string[] } {
  let root: unknown = structuredClone(body);
  const touched: string[] = [];
  const parentOf = (path: (string | number)[]) => {
    let node: any = root;
    for (const p of path.slice(0, -1)) node = node[p];
    return node;
  };
  for (const m of mutations) {
    // Values are cloned: generated constants are shared between runs and must never alias.
    if (m.op === 'replaceBody') {
      root = structuredClone(m.value);
      touched.push('(root)');
      continue;
    }
    if (m.op === 'add') {
      const targets = containers(root);
      if (targets.length === 0) continue;
      const path = targets[m.pick % targets.length]!;
      let node: any = root;
      for (const p of path) node = node[p];
      // defineProperty: an own "__proto__" key is sent as such, like any other name.
      Object.defineProperty(node, m.key, {
        value: structuredClone(m.value),
        enumerable: true,
        configurable: true,
        writable: true,
      });
      touched.push(fieldName([...path, m.key]));
      continue;
    }
    const all = paths(root);
    if (all.length === 0) continue;
    const path = all[m.pick % all.length]!;
    const parent = parentOf(path);
    const key = path[path.length - 1]!;
    if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else {
      parent[key] = structuredClone(m.value);
    }
    touched.push(fieldName(path));
  }
  return { body: root, touched };
}

export function mutations(): fc.Arbitrary<Mutation[]> {
  const key = fc.oneof(
    fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '', ' ', 'id', 'extra'),
    fc.string({ maxLength: 12 }),
  );
  const one: fc.Arbitrary<Mutation> = fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }), weight: 2 },
    {
      arbitrary: fc.record({ op: fc.constant('set' as const), pick: fc.nat(), value: badValue }),
      weight: 6,
    },
    {
      arbitrary: fc.record({
        op: fc.constant('add' as const),
        pick: fc.nat(),
        key,
        value: badValue,
      }),
      weight: 2,
    },
    {
      arbitrary: fc.record({ op: fc.constant('replaceBody' as const), value: badValue }),
      weight: 1,
    },
  );
  return fc.array(one, { minLength: 0, maxLength: 3 });
}

// ---------------------------------------------------------------------------
// Schema-driven wrong types (OpenAPI request bodies)

export type JsonType = 'string' | 'integer' | 'number' | 'boolean' | 'null' | 'array' | 'object';

/** The JSON types a (simple) schema accepts, or undefined when it cannot tell. */
export function acceptedTypes(schema: Record<string, any> | undefined): Set<JsonType> | undefined {
  if (!schema) return undefined;
  const branches: Record<string, any>[] | undefined = schema.anyOf ?? schema.oneOf;
  if (branches) {
    const out = new Set<JsonType>();
    for (const b of branches) {
      const t = acceptedTypes(b);
      if (!t) return undefined;
      for (const x of t) out.add(x);
    }
    return out;
  }
  if (schema.type === undefined) return undefined;
  const types: JsonType[] = Array.isArray(schema.type) ? schema.type : [schema.type];
  const out = new Set<JsonType>(types);
  if (out.has('number')) out.add('integer');
  if (schema.nullable === true) out.add('null');
  return out;
}

export const SAMPLE_OF_TYPE: Record<JsonType, unknown> = {
  string: 'wrong-type',
  integer: 7,
  number: 7.5,
  boolean: true,
  null: null,
  array: ['wrong-type'],
  object: { wrong: 'type' },
};

// ---------------------------------------------------------------------------
// Request assembly

export interface RequestParts {
  method: string;
  path: string;
  query?: string;
  auth: AuthKind;
  garbageAuth?: string;
  contentType?: string | undefined;
  payload?: string | Buffer | undefined;
  extraHeaders?: Record<string, string>;
}

/** Builds the outgoing request; `tenant` is whose keys "admin", "agent" and "revoked" mean. */
export function assemble(world: World, tenant: 'A' | 'B', parts: RequestParts): Outgoing {
  const { own } = world.pair(tenant);
  const headers: Record<string, string> = { ...(parts.extraHeaders ?? {}) };
  const bearer = (key: string) => `Bearer ${key}`;
  switch (parts.auth) {
    case 'admin':
      headers.authorization = bearer(own.adminKey);
      break;
    case 'agent':
      headers.authorization = bearer(own.agentKey);
      break;
    case 'revoked':
      headers.authorization = bearer(own.revokedKey);
      break;
    case 'garbage':
      headers.authorization = parts.garbageAuth ?? 'Bearer nope';
      break;
    case 'none':
      break;
  }
  if (parts.contentType !== undefined) headers['content-type'] = parts.contentType;
  return {
    method: parts.method,
    url: parts.query ? `${parts.path}?${parts.query}` : parts.path,
    headers,
    ...(parts.payload !== undefined ? { payload: parts.payload } : {}),
  };
}

const singular = (table: string) =>
  table.endsWith('ies') ? `${table.slice(0, -3)}y` : table.replace(/s$/, '');

/**
 * The route's path with real ids of `tenant` that belong together: a
 * parameter's rows are filtered by the ids of the parameters before it
 * (`/api/surveys/{surveyId}/webhooks/{id}` picks a webhook of that survey,
 * a bare `/api/webhooks/{id}` one with no survey), PATCHed survey responses
 * are partial ones, and the users and keys the suite signs in with are left
 * alone. `pick` chooses among the candidates.
 */
export async function resolvePath(
  h: Harness,
  tenant: Tenant,
  route: Route,
  pick = 0,
): Promise<string> {
  const chosen: { table: string; id: string }[] = [];
  const tables = await tablesOf(h);
  for (const param of route.params) {
    const name = tableForParam(
      route,
      param,
      tables.map((t) => t.name),
    );
    const table = tables.find((t) => t.name === name);
    if (!table) {
      chosen.push({ table: '', id: tenant.organizationId });
      continue;
    }
    const cols = new Set(table.columns.map((c) => c.name));
    let query = sql`select id from ${sql.table(table.name)} where organization_id = ${tenant.organizationId}`;
    for (const before of chosen) {
      const column = `${singular(before.table)}_id`;
      if (cols.has(column)) query = sql`${query} and ${sql.ref(column)} = ${before.id}`;
    }
    if (cols.has('survey_id') && !chosen.some((c) => c.table === 'surveys')) {
      query = sql`${query} and survey_id is null`;
    }
    if (route.method === 'PATCH' && cols.has('completed_at')) {
      query = sql`${query} and completed_at is null`;
    }
    const { rows } = await sql<{ id: string }>`${query} order by id`.execute(h.db);
    const ids = rows.map((r) => r.id).filter((id) => !tenant.protectedIds.has(id));
    chosen.push({ table: table.name, id: ids[pick % Math.max(1, ids.length)] ?? newId() });
  }
  let i = 0;
  return route.path.replace(/\{[^}]+\}/g, () => chosen[i++]!.id);
}
