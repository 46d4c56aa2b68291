/**
 * Bad request bodies. Every route with a JSON body in /openapi.json gets
 * values of the wrong JSON type and unknown properties, field by field, from
 * its own schema (so a field or route added later is covered); the known body
 * shapes (users, API keys, contacts, tickets, messages, surveys, responses,
 * webhooks) start from valid bodies and are mutated field by field with
 * adversarial values: wrong types, NULs, lone surrogates, huge strings, deep
 * nesting, invalid UTF-8, prototype keys.
 */
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { forEachDialect } from './support/harness.js';
import {
  DbWatch,
  SAMPLE_OF_TYPE,
  World,
  acceptedTypes,
  errorOf,
  fcParams,
  fieldName,
  is2xx,
  mutate,
  mutations,
  render,
  resolvePath,
  timeoutFor,
  useOfflineDelivery,
  validBodies,
  watchProcess,
  type JsonType,
  type Route,
  deepJson,
  discoverRoutes,
  invalidUtf8,
  nestingDepth,
  rawMarker,
} from './support/fuzz.js';

const WRONG_TYPE_RUNS = 120;
const MUTATION_RUNS = 200;
const FRAMING_RUNS = 150;
const proc = watchProcess();

interface TypedField {
  path: (string | number)[];
  accepts: Set<JsonType>;
}

/**
 * Fields whose accepted JSON types the schema states: every declared
 * property, and nested ones where the base body has the parent (object
 * properties, record values, first array items).
 */
function typedFields(
  schema: Record<string, any> | undefined,
  base: unknown,
  path: (string | number)[] = [],
  out: TypedField[] = [],
): TypedField[] {
  if (!schema || out.length > 100) return out;
  const obj = base !== null && typeof base === 'object' && !Array.isArray(base) ? base : {};
  const visit = (key: string | number, child: Record<string, any>, value: unknown) => {
    const accepts = acceptedTypes(child);
    if (accepts) out.push({ path: [...path, key], accepts });
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      typedFields(child, value, [...path, key], out);
    }
    if (Array.isArray(value) && value.length > 0 && child.items) {
      const itemAccepts = acceptedTypes(child.items);
      if (itemAccepts) out.push({ path: [...path, key, 0], accepts: itemAccepts });
      typedFields(child.items, value[0], [...path, key, 0], out);
    }
  };
  const props: Record<string, any> = schema.properties ?? {};
  for (const [key, child] of Object.entries(props)) {
    if (path.length === 0 || key in obj) visit(key, child, (obj as any)[key]);
  }
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    for (const key of Object.keys(obj)) {
      if (!(key in props)) visit(key, schema.additionalProperties, (obj as any)[key]);
    }
  }
  return out;
}

/** Objects of the base body (the root included) whose schema forbids unknown properties. */
function closedObjects(
  schema: Record<string, any> | undefined,
  base: unknown,
  path: (string | number)[] = [],
  out: { path: (string | number)[]; known: Set<string> }[] = [],
): { path: (string | number)[]; known: Set<string> }[] {
  if (!schema || base === null || typeof base !== 'object' || Array.isArray(base)) return out;
  if (schema.additionalProperties === false) {
    out.push({ path, known: new Set(Object.keys(schema.properties ?? {})) });
  }
  for (const [key, child] of Object.entries<Record<string, any>>(schema.properties ?? {})) {
    const value = (base as any)[key];
    if (Array.isArray(value) && value.length > 0 && child.items) {
      closedObjects(child.items, value[0], [...path, key, 0], out);
    } else {
      closedObjects(child, value, [...path, key], out);
    }
  }
  return out;
}

function setAt(body: unknown, path: (string | number)[], value: unknown): unknown {
  const root = structuredClone(body ?? {});
  let node: any = root;
  for (const p of path.slice(0, -1)) node = node[p];
  node[path[path.length - 1]!] = value;
  return root;
}

/** Content types no JSON route accepts: 415 whatever the body. */
const NOT_JSON = [
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
];

/** Bodies that are not JSON, or are JSON the parser must refuse (NUL, `__proto__`). */
const NOT_JSON_BODIES = [
  '{',
  '[',
  '{"a":1,}',
  "{'a':1}",
  '{a:1}',
  'NaN',
  'undefined',
  '{"a":1}{"b":2}',
  '{"a":1} x',
  '\ufeff{}',
  '{"a":01}',
  '{"a":.5}',
  '{"a":"\t"}',
  '[1,]',
  '"\\x41"',
  '{"a":"\\u0000"}',
  '{"a":{"b":"x\\u0000y"}}',
  '{"__proto__":{"admin":true}}',
  '{"a":[{"__proto__":1}]}',
];

type Framing =
  | { kind: 'oversize'; extra: number }
  | { kind: 'mediaType'; type: string }
  | { kind: 'syntax'; text: string }
  | { kind: 'deepBody'; depth: number; shape: 'array' | 'object' | 'mixed' }
  | { kind: 'deepField'; depth: number; shape: 'array' | 'object' | 'mixed'; pick: number }
  | { kind: 'badUtf8'; bytes: Buffer; pick: number; inKey: boolean }
  | { kind: 'lengthMismatch'; delta: number }
  | { kind: 'empty' };

const shape = fc.constantFrom<'array' | 'object' | 'mixed'>('array', 'object', 'mixed');
const framing: fc.Arbitrary<Framing> = fc.oneof(
  fc.record({ kind: fc.constant('oversize' as const), extra: fc.integer({ min: 1, max: 5000 }) }),
  fc.record({ kind: fc.constant('mediaType' as const), type: fc.constantFrom(...NOT_JSON) }),
  fc.record({ kind: fc.constant('syntax' as const), text: fc.constantFrom(...NOT_JSON_BODIES) }),
  fc.record({ kind: fc.constant('deepBody' as const), depth: nestingDepth, shape }),
  fc.record({
    kind: fc.constant('deepField' as const),
    depth: nestingDepth,
    shape,
    pick: fc.nat(),
  }),
  fc.record({
    kind: fc.constant('badUtf8' as const),
    bytes: invalidUtf8,
    pick: fc.nat(),
    inKey: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('lengthMismatch' as const),
    delta: fc.constantFrom(-5, -1, 1, 100),
  }),
  fc.record({ kind: fc.constant('empty' as const) }),
);

/** Every path of a body where a value can be replaced (object members only). */
function memberPaths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const key = Array.isArray(value) ? Number(k) : k;
    return [[...prefix, key], ...memberPaths(v, [...prefix, key])];
  });
}

/** Routes whose body may be left out (docs/api.md, "Rotating a secret"); every other needs one. */
const OPTIONAL_BODY = /\/secret\/rotate$/;

const ALL_TYPES: JsonType[] = ['string', 'integer', 'number', 'boolean', 'null', 'array', 'object'];

forEachDialect('bad input: request bodies', (h) => {
  useOfflineDelivery(h);
  let watch: DbWatch;
  let world: World;
  let routes: Route[];
  let shapes: ReturnType<typeof validBodies>;

  beforeAll(async () => {
    watch = new DbWatch(h);
    world = await World.create(h, watch);
    routes = (await discoverRoutes(h)).filter((r) => r.hasBody);
    shapes = validBodies(world.bodyIds(world.tenants[0]));
  });

  const key = (r: Route) => `${r.method} ${r.path}`;
  const admin = () => ({ authorization: `Bearer ${world.tenants[0].adminKey}` });
  const json = { 'content-type': 'application/json' };

  it('accepts the valid body shapes the mutations start from', async () => {
    const known = routes.filter((r) => shapes[key(r)]);
    expect(known.length, 'routes with a known body shape').toBeGreaterThanOrEqual(16);
    for (const route of known) {
      let accepted = 0;
      const answers: string[] = [];
      for (const body of fc.sample(shapes[key(route)]!, { numRuns: 3, seed: 42 })) {
        const path = await resolvePath(h, world.tenants[0], route);
        const res = await watch.send({
          method: route.method,
          url: path,
          headers: { ...admin(), ...json },
          payload: JSON.stringify(body),
        });
        answers.push(`${res.statusCode} ${res.body.slice(0, 200)}`);
        if (is2xx(res)) {
          accepted += 1;
          await world.refresh();
        }
      }
      expect(accepted, `${key(route)}: ${answers.join(' | ')}`).toBeGreaterThan(0);
    }
  });

  it(
    'answers a wrong JSON type or an unknown property with 400 naming the field, on every body route',
    async () => {
      const plan = fc.constantFrom(...routes).chain((route) =>
        fc.record({
          route: fc.constant(route),
          base: shapes[key(route)] ?? fc.constant({}),
          unknown: fc.boolean(),
          pick: fc.nat(),
          type: fc.constantFrom(...ALL_TYPES),
          name: fc.constantFrom('unexpected', 'isAdmin', 'organizationId', 'id', 'constructor'),
        }),
      );
      await fc.assert(
        fc.asyncProperty(plan, async (p) => {
          const schema = p.route.bodySchema;
          let body: unknown;
          let field: string;
          if (p.unknown) {
            const closed = closedObjects(schema, p.base);
            if (closed.length === 0) return;
            const { path: at, known } = closed[p.pick % closed.length]!;
            if (known.has(p.name)) return;
            body = setAt(p.base, [...at, p.name], 'surprise');
            field = fieldName([...at, p.name]);
          } else {
            const fields = typedFields(schema, p.base);
            if (fields.length === 0) return;
            const target = fields[p.pick % fields.length]!;
            const wrong = ALL_TYPES.filter((t) => !target.accepts.has(t));
            const type = wrong.includes(p.type) ? p.type : wrong[p.pick % wrong.length];
            if (type === undefined) return;
            body = setAt(p.base, target.path, SAMPLE_OF_TYPE[type]);
            field = fieldName(target.path);
          }
          const url = await resolvePath(h, world.tenants[0], p.route);
          // Public provider endpoints may acknowledge malformed input (so providers do not
          // retry, docs/providers.md, "Delivery status"), but then must store nothing.
          const res = await watch.send(
            {
              method: p.route.method,
              url,
              headers: { ...admin(), ...json },
              payload: JSON.stringify(body),
            },
            { mustNotWrite: p.route.public },
          );
          if (p.route.public && is2xx(res)) return;
          const label = `${p.route.method} ${url} ${JSON.stringify(body).slice(0, 300)} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
          expect(res.statusCode, label).toBe(400);
          const error = errorOf(res);
          expect(error.code, label).toBe('validation_failed');
          expect(error.fields, label).toContain(field);
        }),
        fcParams(WRONG_TYPE_RUNS),
      );
      await proc.expectHealthy(h);
    },
    timeoutFor(WRONG_TYPE_RUNS),
  );

  it(
    'answers oversized, mistyped, malformed, deep and non-UTF-8 bodies within the contract',
    async () => {
      const limit = h.config.bodyLimitBytes;
      const plan = fc.constantFrom(...routes).chain((route) =>
        fc.record({
          route: fc.constant(route),
          base: shapes[key(route)] ?? fc.constant({}),
          framing,
        }),
      );
      await fc.assert(
        fc.asyncProperty(plan, async ({ route, base, framing: f }) => {
          const url = await resolvePath(h, world.tenants[0], route);
          let payload: string | Buffer | undefined = JSON.stringify(base);
          let type = 'application/json';
          const extra: Record<string, string> = {};
          /** What a route of the management API must answer; provider endpoints may differ. */
          let expected: { status: number; code: string } | undefined;
          switch (f.kind) {
            case 'oversize':
              payload = JSON.stringify({ ...base, padding: 'x'.repeat(limit + f.extra) });
              expected = { status: 413, code: 'payload_too_large' };
              break;
            case 'mediaType':
              type = f.type;
              expected = { status: 415, code: 'unsupported_media_type' };
              break;
            case 'syntax':
              payload = f.text;
              expected = { status: 400, code: 'invalid_json' };
              break;
            case 'deepBody':
              payload = deepJson(f.depth, f.shape);
              break;
            case 'deepField':
            case 'badUtf8': {
              const paths = memberPaths(base);
              const marker =
                f.kind === 'deepField'
                  ? rawMarker(`deep:${f.shape}:${f.depth}`)
                  : rawMarker(`utf8:${f.bytes.toString('hex')}`);
              if (f.kind === 'badUtf8' && f.inKey) {
                // Invalid bytes in a member name: {"a<bytes>b": 1, ...}.
                payload = Buffer.concat([
                  Buffer.from('{"a'),
                  f.bytes,
                  Buffer.from(`b":1${JSON.stringify(base).slice(1) === '}' ? '' : ','}`),
                  Buffer.from(JSON.stringify(base).slice(1)),
                ]);
              } else {
                payload = render(
                  paths.length === 0
                    ? { extra: marker }
                    : setAt(base, paths[f.pick % paths.length]!, marker),
                );
              }
              break;
            }
            case 'lengthMismatch':
              extra['content-length'] = String(Buffer.byteLength(payload) + f.delta);
              expected = { status: 400, code: 'validation_failed' };
              break;
            case 'empty':
              payload = undefined;
              break;
          }
          const res = await watch.send({
            method: route.method,
            url,
            headers: { ...admin(), 'content-type': type, ...extra },
            ...(payload !== undefined ? { payload } : {}),
          });
          const label = `${route.method} ${url} ${f.kind} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
          if (expected && !route.public) {
            expect(res.statusCode, label).toBe(expected.status);
            expect(errorOf(res).code, label).toBe(expected.code);
          }
          if (f.kind === 'empty' && OPTIONAL_BODY.test(route.path)) {
            expect(res.statusCode, label).toBe(200);
          } else if ((f.kind === 'deepBody' || f.kind === 'empty') && !route.public) {
            expect(res.statusCode, label).toBe(400);
          }
          if (is2xx(res)) {
            // What was stored must read back: the resource, its collection, the events.
            for (const read of [url, url.replace(/\/[^/]+$/, ''), '/api/events?limit=5']) {
              const back = await watch.send({ method: 'GET', url: read, headers: admin() });
              expect([200, 404], `${read} after ${label}`).toContain(back.statusCode);
            }
            await world.refresh();
          }
        }),
        fcParams(FRAMING_RUNS),
      );
      watch.report('request bodies: framing');
      await proc.expectHealthy(h);
    },
    timeoutFor(FRAMING_RUNS, 150),
  );

  it(
    'keeps the contract for known body shapes mutated field by field',
    async () => {
      const known = routes.filter((r) => shapes[key(r)]);
      const plan = fc.constantFrom(...known).chain((route) =>
        fc.record({
          route: fc.constant(route),
          base: shapes[key(route)]!,
          mutations: mutations().filter((m) => m.length > 0),
          pick: fc.nat(3),
          tenant: fc.constantFrom(0, 0, 0, 1),
        }),
      );
      await fc.assert(
        fc.asyncProperty(plan, async (p) => {
          const tenant = world.tenants[p.tenant];
          const url = await resolvePath(h, tenant, p.route, p.pick);
          const { body } = mutate(p.base, p.mutations);
          const res = await watch.send({
            method: p.route.method,
            url,
            headers: { authorization: `Bearer ${tenant.adminKey}`, ...json },
            payload: render(body),
          });
          if (is2xx(res)) await world.refresh();
        }),
        fcParams(MUTATION_RUNS),
      );
      watch.report('request bodies: all');
      await proc.expectHealthy(h);
    },
    timeoutFor(MUTATION_RUNS, 150),
  );
});
