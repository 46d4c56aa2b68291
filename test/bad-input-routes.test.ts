/**
 * Bad input against every route the app has: the routes come from
 * /openapi.json (plus the hidden public endpoints), so a route added later is
 * covered without touching this file. Path parameters become real ids of the
 * caller's organization, the other organization's ids, or garbage; query
 * strings, bodies, content types and API keys are random or adversarial.
 *
 * For every request: no 5xx, errors in the contract's format with the status
 * of their code, the database unchanged unless the answer is a 2xx, another
 * organization's ids never answered with a 2xx nor leaked in one, and no key
 * means 401 on the management API.
 */
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { forEachDialect } from './support/harness.js';
import {
  DbWatch,
  GARBAGE_AUTH,
  World,
  assemble,
  contentType,
  discoverRoutes,
  fcParams,
  garbageSegment,
  hugeString,
  is2xx,
  mutate,
  mutations,
  nastyString,
  pct,
  render,
  resolvePath,
  tableForParam,
  tablesOf,
  timeoutFor,
  useOfflineDelivery,
  validBodies,
  watchProcess,
  type AuthKind,
  type Mutation,
  type Outgoing,
  type Res,
  type Route,
  type Tenant,
} from './support/fuzz.js';

const RUNS = 200;
const QUERY_RUNS = 100;
const proc = watchProcess();

type ParamChoice =
  | { kind: 'own'; n: number }
  | { kind: 'ownAny'; n: number }
  | { kind: 'ownUpper'; n: number }
  | { kind: 'foreign'; n: number }
  | { kind: 'garbage'; raw: string };

const paramChoice: fc.Arbitrary<ParamChoice> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('own' as const), n: fc.nat(3) }), weight: 8 },
  { arbitrary: fc.record({ kind: fc.constant('ownAny' as const), n: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('ownUpper' as const), n: fc.nat(3) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('foreign' as const), n: fc.nat(3) }), weight: 2 },
  {
    arbitrary: fc.record({ kind: fc.constant('garbage' as const), raw: garbageSegment }),
    weight: 3,
  },
);

/** Query values, already percent-encoded (or deliberately badly encoded). */
const DATE_TIMES = [
  '2016-12-31T23:59:60Z',
  '2015-06-30T23:59:60.999Z',
  '2017-01-01T00:59:60+01:00',
  '2020-01-01t00:00:00z',
  '2020-01-01 00:00:00Z',
  '2020-01-01T00:00:00+0000',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999999Z',
  '2020-02-30T00:00:00Z',
  '2020-01-01T24:00:00Z',
  '2020-01-01',
  '+275760-09-13T00:00:00Z',
  '2020-01-01T00:00:00+14:00',
  '2020-01-01T00:00:00-23:59',
];
/** A query value: text inserted as is (already percent-encoded, or deliberately not), or a cursor. */
type QueryValue = string | { cursorOf: 'own' | 'other'; n: number };

const queryValue: fc.Arbitrary<QueryValue> = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      '1',
      '0',
      '-1',
      '200',
      '201',
      '50.5',
      '1e2',
      '0x10',
      '%201',
      'true',
      'false',
      'null',
      '',
      'open',
      'pending',
      'admin',
      'ticket.created',
      'failed',
      'succeeded',
      'pat%40example.com',
      '%2B15550102000',
      '%zz',
      '%C0%AF',
      '%00',
    ),
    weight: 4,
  },
  {
    arbitrary: fc
      .oneof(
        fc.constantFrom(...DATE_TIMES),
        fc
          .date({ min: new Date(0), max: new Date('2100-01-01'), noInvalidDate: true })
          .map((d) => d.toISOString()),
      )
      .map(pct),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      cursorOf: fc.constantFrom<'own' | 'other'>('own', 'other'),
      n: fc.nat(5),
    }),
    weight: 2,
  },
  { arbitrary: nastyString.map(pct), weight: 2 },
  { arbitrary: fc.constant('x'.repeat(20_000)), weight: 1 },
);

/** `key=value&…`; a cursor is the opaque form of one of the organization's (or the other's) ids. */
function queryText(pairs: [string, QueryValue][], own: Tenant, other: Tenant): string {
  return pairs
    .map(([k, v]) => {
      if (typeof v === 'string') return `${k}=${v}`;
      const ids = Object.values((v.cursorOf === 'own' ? own : other).ids).flat();
      return `${k}=${Buffer.from(ids[v.n % Math.max(1, ids.length)] ?? 'x').toString('base64url')}`;
    })
    .join('&');
}

type BodyChoice =
  | { kind: 'none' }
  | { kind: 'valid'; base: Record<string, unknown>; mutations: Mutation[] }
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; text: unknown };

const RAW_BODIES = [
  '{',
  '[',
  '{"a":1,}',
  "{'a':1}",
  'NaN',
  '{"a":1}{"b":2}',
  '\ufeff{}',
  '{"a":1} x',
  '{"__proto__":{"admin":true}}',
  '{"constructor":{"prototype":{"admin":true}}}',
  '{"a":"\\ud800"}',
  '{"a":"\\u0000"}',
  '{"a":1e999}',
  '{"a":-0}',
  '"just a string"',
  'null',
  '[]',
  '{}',
  '   ',
  '{"a":1,"a":2}',
];

forEachDialect('bad input: every route', (h) => {
  useOfflineDelivery(h);
  let watch: DbWatch;
  let world: World;
  let routes: Route[];
  let tables: string[];

  beforeAll(async () => {
    watch = new DbWatch(h);
    world = await World.create(h, watch);
    routes = await discoverRoutes(h);
    tables = (await tablesOf(h)).map((t) => t.name);
  });

  const bodyKey = (r: Route) => `${r.method} ${r.path}`;

  /** The id for one path parameter under `choice`. */
  function paramValue(
    route: Route,
    param: string,
    choice: ParamChoice,
    own: Tenant,
    other: Tenant,
  ) {
    const table = tableForParam(route, param, tables);
    const from = (t: Tenant, n: number, any = false) => {
      const pool =
        any || table === undefined
          ? Object.values(t.ids).flat()
          : route.method === 'PATCH' && table === 'survey_responses'
            ? [...t.partialResponses, ...(t.ids[table] ?? [])]
            : (t.ids[table] ?? []);
      return pool[n % Math.max(1, pool.length)] ?? t.organizationId;
    };
    switch (choice.kind) {
      case 'own':
        return { value: from(own, choice.n), foreign: false };
      case 'ownAny':
        return { value: from(own, choice.n, true), foreign: false };
      case 'ownUpper':
        return { value: from(own, choice.n).toUpperCase(), foreign: false };
      case 'foreign':
        return { value: from(other, choice.n), foreign: true };
      case 'garbage':
        return { value: choice.raw, foreign: false };
    }
  }

  function fillPath(route: Route, choices: ParamChoice[], own: Tenant, other: Tenant) {
    let foreign = false;
    let i = 0;
    const path = route.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
      const r = paramValue(route, name, choices[i++ % choices.length]!, own, other);
      foreign ||= r.foreign;
      return r.value;
    });
    return { path, foreign };
  }

  /** Checks that only depend on who asked and which ids were used. */
  function checkTenancy(
    route: Route,
    method: string,
    auth: AuthKind,
    foreign: boolean,
    other: Tenant,
    out: Outgoing,
    res: Res,
  ) {
    const label = `${out.method} ${out.url.slice(0, 200)} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
    const known =
      routes.some((r) => r.path === route.path && r.method === method) ||
      (method === 'HEAD' && routes.some((r) => r.path === route.path && r.method === 'GET'));
    // Body limits and media types are checked before the router's 404.
    if (!known) expect([400, 404, 413, 415], label).toContain(res.statusCode);
    const validKey = auth === 'admin' || auth === 'agent';
    if (!route.public && !validKey) {
      expect(is2xx(res), label).toBe(false);
      if (known) expect([400, 401, 404], label).toContain(res.statusCode);
    }
    if (foreign && validKey) expect(is2xx(res), `another organization's id: ${label}`).toBe(false);
    if (is2xx(res) && validKey && method !== 'HEAD') {
      for (const id of world.allIds(other)) {
        expect(res.body.includes(id), `leaks ${id} of the other organization: ${label}`).toBe(
          false,
        );
      }
    }
  }

  it('sweeps every route with own, foreign and garbage ids, and without a key', async () => {
    const kinds: ParamChoice[] = [
      { kind: 'foreign', n: 0 },
      { kind: 'garbage', raw: 'x'.repeat(101) },
      { kind: 'garbage', raw: '%C0%AF' },
      { kind: 'own', n: 0 },
    ];
    const { own, other } = world.pair('A');
    const bodies = validBodies(world.bodyIds(own));
    const sent = new Set<string>();
    const sweep = async (route: Route, method: string, choice: ParamChoice, auth: AuthKind) => {
      // Own and foreign ids are each a consistent set (a webhook of that survey, …), so
      // only the organization scoping can stop the foreign one.
      const { path, foreign } =
        choice.kind === 'own' || choice.kind === 'foreign'
          ? {
              path: await resolvePath(h, choice.kind === 'own' ? own : other, route),
              foreign: choice.kind === 'foreign' && route.params.length > 0,
            }
          : fillPath(route, [choice], own, other);
      const shape = bodies[bodyKey(route)];
      const body =
        route.hasBody && shape ? fc.sample(shape, { numRuns: 1, seed: 1 })[0] : undefined;
      const out = assemble(world, 'A', {
        method,
        path,
        auth,
        ...(body !== undefined
          ? { contentType: 'application/json', payload: JSON.stringify(body) }
          : {}),
      });
      const res = await watch.send(out);
      checkTenancy(route, method, auth, foreign, other, out, res);
      if (is2xx(res) && method !== 'GET' && method !== 'HEAD') await world.refresh();
    };
    for (const route of routes) {
      // Every kind of id with an admin key (own ids last: they may delete the row).
      for (const choice of route.params.length > 0 ? kinds : [kinds[kinds.length - 1]!]) {
        await sweep(route, route.method, choice, 'admin');
      }
      await sweep(route, route.method, { kind: 'own', n: 0 }, 'none');
      // Methods the path does not have, once per path.
      if (!sent.has(route.path)) {
        sent.add(route.path);
        await sweep(route, 'OPTIONS', { kind: 'own', n: 0 }, 'admin');
        if (route.method === 'GET') await sweep(route, 'HEAD', { kind: 'own', n: 0 }, 'admin');
        const missing = ['DELETE', 'PUT', 'POST', 'PATCH', 'GET'].find(
          (method) => !routes.some((r) => r.path === route.path && r.method === method),
        );
        if (missing) await sweep(route, missing, { kind: 'own', n: 0 }, 'admin');
      }
    }
    watch.report('sweep');
    await proc.expectHealthy(h);
  }, 120_000);

  it(
    'answers random requests to every route within the contract',
    async () => {
      const bodiesA = validBodies(world.bodyIds(world.tenants[0]));
      const tenantArb = fc.constantFrom<'A' | 'B'>('A', 'B');
      const plan = fc.constantFrom(...routes).chain((route) => {
        const shape = bodiesA[bodyKey(route)] ?? fc.constant({});
        const body: fc.Arbitrary<BodyChoice> = fc.oneof(
          { arbitrary: fc.constant({ kind: 'none' as const }), weight: 2 },
          {
            arbitrary: fc.record({
              kind: fc.constant('valid' as const),
              base: shape,
              mutations: mutations(),
            }),
            weight: route.hasBody ? 6 : 1,
          },
          {
            arbitrary: fc.record({
              kind: fc.constant('json' as const),
              value: fc.jsonValue({ maxDepth: 4 }),
            }),
            weight: 2,
          },
          {
            arbitrary: fc.record({
              kind: fc.constant('raw' as const),
              text: fc.oneof(fc.constantFrom(...RAW_BODIES), nastyString, hugeString),
            }),
            weight: 1,
          },
        );
        const key = fc.oneof(
          {
            arbitrary: fc
              .nat()
              .map((n) => route.query[n % Math.max(1, route.query.length)] ?? 'limit'),
            weight: 4,
          },
          {
            arbitrary: fc.constantFrom(
              '__proto__',
              'constructor',
              'a[b]',
              'limit[]',
              '',
              'x',
              '%zz',
            ),
            weight: 1,
          },
          { arbitrary: nastyString.map(pct), weight: 1 },
        );
        return fc.record({
          route: fc.constant(route),
          tenant: tenantArb,
          method: fc.oneof(
            { arbitrary: fc.constant(route.method), weight: 8 },
            {
              arbitrary: fc.constantFrom(
                'GET',
                'POST',
                'PUT',
                'PATCH',
                'DELETE',
                'HEAD',
                'OPTIONS',
              ),
              weight: 1,
            },
          ),
          auth: fc.oneof(
            { arbitrary: fc.constant('admin'), weight: 8 },
            { arbitrary: fc.constant('agent'), weight: 2 },
            { arbitrary: fc.constantFrom<AuthKind>('none', 'garbage', 'revoked'), weight: 2 },
          ),
          garbageAuth: fc.constantFrom(...GARBAGE_AUTH),
          params: fc.array(paramChoice, { minLength: 3, maxLength: 3 }),
          query: fc.array(fc.tuple(key, queryValue), { maxLength: 4 }),
          body,
          contentType,
        });
      });

      await fc.assert(
        fc.asyncProperty(plan, async (p) => {
          const { own, other } = world.pair(p.tenant);
          const { path, foreign } = fillPath(p.route, p.params, own, other);
          const query = queryText(p.query, own, other);
          let payload: string | Buffer | undefined;
          switch (p.body.kind) {
            case 'none':
              break;
            case 'valid':
              payload = render(mutate(p.body.base, p.body.mutations).body);
              break;
            case 'json':
              payload = JSON.stringify(p.body.value);
              break;
            case 'raw': {
              // A raw text as is; a raw marker (huge string) rendered to its JSON text.
              const raw = p.body.text;
              payload = typeof raw === 'string' ? raw : render(raw);
              break;
            }
          }
          const out = assemble(world, p.tenant, {
            method: p.method,
            path,
            query,
            auth: p.auth,
            garbageAuth: p.garbageAuth,
            ...(payload !== undefined ? { contentType: p.contentType, payload } : {}),
          });
          const res = await watch.send(out);
          checkTenancy(p.route, p.method, p.auth, foreign, other, out, res);
          if (is2xx(res) && p.method !== 'GET' && p.method !== 'HEAD') await world.refresh();
        }),
        fcParams(RUNS),
      );
      watch.report('every route: random requests');
      await proc.expectHealthy(h);
    },
    timeoutFor(RUNS, 100),
  );

  it(
    'answers any query string on every route that takes one within the contract',
    async () => {
      const withQuery = routes.filter((r) => r.query.length > 0);
      const [a, b] = world.tenants;
      const plan = fc.constantFrom(...withQuery).chain((route) =>
        fc.record({
          route: fc.constant(route),
          pairs: fc.array(
            fc.tuple(
              fc.oneof(
                { arbitrary: fc.constantFrom(...route.query), weight: 6 },
                { arbitrary: fc.constantFrom('x', '__proto__', 'constructor'), weight: 1 },
              ),
              queryValue,
            ),
            { minLength: 1, maxLength: 4 },
          ),
          pick: fc.nat(3),
        }),
      );
      await fc.assert(
        fc.asyncProperty(plan, async ({ route, pairs, pick }) => {
          const path = await resolvePath(h, a, route, pick);
          const query = queryText(pairs, a, b);
          const out = assemble(world, 'A', { method: route.method, path, query, auth: 'admin' });
          const res = await watch.send(out);
          const unknown = pairs.some(([k]) => !route.query.includes(k));
          if (unknown && !route.public) {
            expect(
              res.statusCode,
              `${out.url} -> ${res.statusCode} ${res.body.slice(0, 300)}`,
            ).toBe(400);
          }
          if (is2xx(res) && route.method !== 'GET') await world.refresh();
        }),
        fcParams(QUERY_RUNS),
      );
      await proc.expectHealthy(h);
    },
    timeoutFor(QUERY_RUNS),
  );
});
