/**
 * The storage-test harness: `forEachDialect` declares a suite once per
 * dialect (SQLite always; PostgreSQL when configured), each with a fresh,
 * migrated database and a built app driven by `inject()` and a manual clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { DatabaseHandle } from '../../src/db/dialect.js';
import { migrate } from '../../src/db/migrate.js';
import { openPostgres } from '../../src/db/postgres/postgres.js';
import { openSqlite } from '../../src/db/sqlite/sqlite.js';
import type { Db } from '../../src/db/schema.js';
import { buildApp } from '../../src/cli/app.js';
import { createDeliveryContext, type DeliveryContext } from '../../src/delivery/context.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { createOrganization, type CreatedOrganization } from '../../src/orgs/organizations.js';
import { adminQuery, adminUrl, uniqueDbName, withDatabase } from './postgres.js';

export type DialectName = 'sqlite' | 'postgres';

/** Opens a fresh, migrated database of the given dialect; `dispose` removes it. */
export async function openTestDatabase(
  name: DialectName,
  clock = new ManualClock(),
): Promise<{ handle: DatabaseHandle; url: string; dispose: () => Promise<void> }> {
  if (name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'hookdesk-test-'));
    const file = join(dir, 'test.db');
    const handle = openSqlite(file);
    await migrate(handle, clock);
    return {
      handle,
      url: `sqlite:${file}`,
      dispose: async () => {
        await handle.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const admin = adminUrl();
  const template = inject('pgTemplate');
  if (!admin || !template) throw new Error('PostgreSQL is not configured for this run');
  const dbName = uniqueDbName('hdtest');
  await adminQuery(admin, `create database ${dbName} template ${template}`);
  const url = withDatabase(admin, dbName);
  const handle = openPostgres(url, { poolSize: 4 });
  return {
    handle,
    url,
    dispose: async () => {
      await handle.close();
      await adminQuery(admin, `drop database if exists ${dbName} with (force)`);
    },
  };
}

export function enabledDialects(): DialectName[] {
  return inject('pgTemplate') ? ['sqlite', 'postgres'] : ['sqlite'];
}

export interface Org extends CreatedOrganization {
  /** `authorization` header of the admin key. */
  headers: { authorization: string };
}

export interface Harness {
  readonly dialect: DialectName;
  readonly clock: ManualClock;
  readonly config: Config;
  app: FastifyInstance;
  database: DatabaseHandle;
  /** `sqlite:…` or `postgres://…` of this suite's database, for child processes. */
  databaseUrl: string;
  db: Db;
  delivery: DeliveryContext;
  metrics: Metrics;
  /** A new organization with an admin and an admin API key. */
  createOrg(name?: string): Promise<Org>;
  /** `inject()` that parses the JSON body. */
  request(
    opts: InjectOptions & { key?: string },
  ): Promise<LightMyRequestResponse & { body: string; json: () => any }>;
}

export function forEachDialect(
  title: string,
  body: (h: Harness) => void,
  env: Record<string, string> = {},
): void {
  for (const dialect of enabledDialects()) {
    describe(`${title} [${dialect}]`, () => {
      const h = makeHarness(dialect, env);
      body(h);
    });
  }
}

function makeHarness(dialect: DialectName, env: Record<string, string>): Harness {
  const clock = new ManualClock();
  const config = loadConfig({ LOG_LEVEL: 'silent', DATABASE_URL: 'sqlite::memory:', ...env });
  let dispose: (() => Promise<void>) | undefined;
  let orgCounter = 0;
  const h: Harness = {
    dialect,
    clock,
    config,
    app: undefined as unknown as FastifyInstance,
    database: undefined as unknown as DatabaseHandle,
    databaseUrl: '',
    db: undefined as unknown as Db,
    delivery: undefined as unknown as DeliveryContext,
    metrics: undefined as unknown as Metrics,
    async createOrg(name?: string) {
      orgCounter += 1;
      const created = await h.db.transaction().execute((trx) =>
        createOrganization(trx, clock, {
          name: name ?? `Org ${orgCounter}`,
          adminEmail: `admin${orgCounter}@example.com`,
        }),
      );
      return { ...created, headers: { authorization: `Bearer ${created.apiKey}` } };
    },
    async request(opts) {
      const { key, ...rest } = opts;
      const headers = {
        ...(rest.headers ?? {}),
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      };
      const res = await h.app.inject({ ...rest, headers });
      return Object.assign(res, { json: () => JSON.parse(res.body) as unknown });
    },
  };
  beforeAll(async () => {
    const opened = await openTestDatabase(dialect, clock);
    dispose = opened.dispose;
    h.database = opened.handle;
    h.databaseUrl = opened.url;
    h.db = opened.handle.db;
    h.delivery = createDeliveryContext(config);
    h.metrics = new Metrics(opened.handle.db, clock);
    h.app = await buildApp({
      config,
      database: opened.handle,
      clock,
      logger: createLogger('silent'),
      delivery: h.delivery,
      metrics: h.metrics,
    });
    await h.app.ready();
  });
  afterAll(async () => {
    await h.app?.close();
    await h.delivery?.close();
    await dispose?.();
  });
  return h;
}
