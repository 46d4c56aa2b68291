/**
 * What `serve`, `api` and `worker` tell the person starting them, and
 * development mode (`--dev`): real CLI children (tsx), a plain-HTTP receiver
 * on loopback, every wait bounded.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEV_MODE_LINE, ENCRYPTION_KEY_WARNING, startupBanner } from '../src/cli/banner.js';
import { printableDatabaseUrl } from '../src/cli/startup-errors.js';
import { TEST_ENCRYPTION_KEY, TWILIO_SMS } from './support/channels.js';
import { freePort, requestJson, runCli, startCli, stop } from './support/cli.js';
import { forEachDialect } from './support/harness.js';
import { until } from './support/wait.js';

const START_MS = 45_000;
const KEY = 'hdk_test_dev_mode_key_0123456789';
const dir = mkdtempSync(join(tmpdir(), 'hookdesk-cli-dev-'));
const children: ChildProcess[] = [];
const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(children.map((c) => stop(c)));
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  base: string;
}

/** Starts `hookdesk <args>` and waits for its banner (the last line it prints at start). */
async function start(args: string[], env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const child = startCli(args, { PORT: String(port), HOST: '127.0.0.1', ...env });
  children.push(child);
  const running: Running = { child, stdout: '', stderr: '', base: `http://127.0.0.1:${port}` };
  child.stdout?.on('data', (d: Buffer) => (running.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (running.stderr += d.toString()));
  await until(
    `hookdesk ${args.join(' ')} to print its banner`,
    () => {
      if (child.exitCode !== null) throw new Error(`exited early:\n${running.stderr}`);
      return /^ {2}database: {2}.*$/m.test(running.stderr);
    },
    START_MS,
    () => running.stderr,
  );
  expect(running.stderr).toContain(`is running: `);
  return running;
}

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  key = KEY,
): Promise<{ status: number; body: any }> {
  const res = await requestJson(base, method, path, {
    headers: { authorization: `Bearer ${key}` },
    body,
    timeoutMs: 10_000,
  });
  return { status: res.status, body: res.body };
}

/** A plain-HTTP receiver on loopback that keeps the event type of every POST. */
async function receiver(): Promise<{ port: number; events: string[] }> {
  const events: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        events.push(String(JSON.parse(Buffer.concat(chunks).toString()).eventType));
      } catch {
        events.push('(not JSON)');
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { port: (server.address() as AddressInfo).port, events };
}

const webhook = (url: string) => ({
  name: 'local',
  url,
  events: ['ticket.created'],
  secret: 'local-test-secret-1234',
});
const ticket = { subject: 'Printer on fire', requester: { email: 'pat@example.com' } };

/** The banner lines of an API process (serve or api) listening at `base`. */
function expectBanner(running: Running, what: string, db: string): void {
  const { base, stderr } = running;
  expect(stderr).toMatch(new RegExp(`^Hookdesk \\d+\\.\\d+\\.\\d+\\S* is running: ${what}`, 'm'));
  expect(stderr).toContain(`  console:   ${base}/\n`);
  expect(stderr).toContain(`  API docs:  ${base}/docs\n`);
  expect(stderr).toContain(`  health:    ${base}/healthz and ${base}/readyz\n`);
  expect(stderr).toContain(`  database:  SQLite ${db}\n`);
}

describe('hookdesk serve --dev, and the start-up banner', () => {
  it('--dev lets a webhook to a plain-HTTP loopback receiver be created and delivered; without it the URL is refused; the banner shows whatever LOG_LEVEL', async () => {
    const { port, events } = await receiver();
    const url = `http://127.0.0.1:${port}/hooks`;
    const db = join(dir, 'dev.db');
    const env = { DATABASE_URL: `sqlite:${db}`, HOOKDESK_BOOTSTRAP_API_KEY: KEY };

    const dev = await start(['serve', '--dev'], { ...env, LOG_LEVEL: 'silent' });
    expect(dev.stderr.split('\n')).toContain(DEV_MODE_LINE);
    expectBanner(dev, 'API and worker', db);
    // The URLs it prints answer.
    for (const path of ['/healthz', '/readyz', '/docs'])
      expect((await fetch(`${dev.base}${path}`)).status, path).toBe(200);
    const created = await call(dev.base, 'POST', '/api/webhooks', webhook(url));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // Every loopback form, on any port, passes the create-time check.
    for (const other of [`http://localhost:${port}/x`, 'http://[::1]:9/x', 'http://127.9.9.9/']) {
      const res = await call(dev.base, 'POST', '/api/webhooks', webhook(other));
      expect(res.status, `${other}: ${JSON.stringify(res.body)}`).toBe(201);
      expect((await call(dev.base, 'DELETE', `/api/webhooks/${res.body.id}`)).status).toBe(204);
    }
    expect((await call(dev.base, 'POST', '/api/tickets', ticket)).status).toBe(201);
    await until(
      'the receiver to get ticket.created',
      () => events.includes('ticket.created'),
      20_000,
    );
    await stop(dev.child);
    expect(dev.stdout, 'LOG_LEVEL=silent logs nothing').toBe('');

    // The same database without --dev (and under NODE_ENV=production, which
    // only --dev minds): the same URL is refused at create time for its
    // scheme; with plain HTTP allowed, for its loopback address.
    const plain = await start(['serve'], { ...env, LOG_LEVEL: 'error', NODE_ENV: 'production' });
    expect(plain.stderr).not.toContain('DEVELOPMENT MODE');
    expectBanner(plain, 'API and worker', db);
    const refused = await call(plain.base, 'POST', '/api/webhooks', webhook(url));
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('https_required');
    await stop(plain.child);
    const httpOnly = await start(['serve'], {
      ...env,
      LOG_LEVEL: 'silent',
      HOOKDESK_EGRESS_ALLOW_HTTP: 'true',
    });
    const blocked = await call(httpOnly.base, 'POST', '/api/webhooks', webhook(url));
    expect(blocked.status).toBe(400);
    expect(JSON.stringify(blocked.body)).toContain('blocked_destination');
    await stop(httpOnly.child);
  }, 150_000);

  it('api --dev accepts the loopback URL at create time', async () => {
    const db = join(dir, 'api-dev.db');
    const api = await start(['api', '--dev'], {
      DATABASE_URL: `sqlite:${db}`,
      HOOKDESK_BOOTSTRAP_API_KEY: KEY,
      LOG_LEVEL: 'silent',
    });
    expect(api.stderr.split('\n')).toContain(DEV_MODE_LINE);
    expectBanner(api, 'API only', db);
    const res = await call(api.base, 'POST', '/api/webhooks', webhook('http://127.0.0.1:9/hooks'));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await stop(api.child);
  }, 90_000);

  it('a worker names its database and no URLs', async () => {
    const db = join(dir, 'worker.db');
    const worker = await start(['worker'], { DATABASE_URL: `sqlite:${db}`, LOG_LEVEL: 'silent' });
    expect(worker.stderr).toContain('is running: worker only (no HTTP listener).');
    expect(worker.stderr).toContain(`  database:  SQLite ${db}\n`);
    expect(worker.stderr).not.toContain('http://');
    await stop(worker.child);
  }, 90_000);

  it('refuses --dev under NODE_ENV=production with one line and exit code 1', async () => {
    const results = await Promise.all(
      ['serve', 'api', 'worker'].map((command) =>
        runCli([command, '--dev'], {
          NODE_ENV: 'production',
          DATABASE_URL: `sqlite:${join(dir, 'production.db')}`,
        }),
      ),
    );
    for (const res of results) {
      expect(res.code, res.stderr).toBe(1);
      const lines = res.stderr.trim().split('\n');
      expect(lines, res.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^hookdesk: NODE_ENV: --dev is refused when NODE_ENV=production/);
      expect(res.stdout).toBe('');
    }
  }, 90_000);
});

describe('the banner as data', () => {
  const banner = (host: string, databaseUrl: string, localFile: string | undefined) =>
    startupBanner({
      version: '1.2.3',
      roles: { api: true, worker: false },
      config: { host, databaseUrl, encryptionKey: undefined, dev: false },
      port: 8080,
      localFile,
    });

  it('builds URLs a browser on this machine can open', () => {
    expect(banner('0.0.0.0', 'sqlite:x.db', 'x.db')).toContain(
      '  console:   http://localhost:8080/',
    );
    expect(banner('::', 'sqlite:x.db', 'x.db')).toContain('  console:   http://localhost:8080/');
    expect(banner('::1', 'sqlite:x.db', 'x.db')).toContain('  API docs:  http://[::1]:8080/docs');
    expect(banner('10.1.2.3', 'sqlite:x.db', 'x.db')).toContain(
      '  health:    http://10.1.2.3:8080/healthz and http://10.1.2.3:8080/readyz',
    );
  });

  it('names the database without a password', () => {
    const url = 'postgres://hd:s3cret-pw@db.example.test:6543/hookdesk?password=s3cret-pw&ssl=true';
    expect(printableDatabaseUrl(url)).toBe('postgres://hd@db.example.test:6543/hookdesk');
    const lines = banner('127.0.0.1', url, undefined);
    expect(lines).toContain('  database:  PostgreSQL postgres://hd@db.example.test:6543/hookdesk');
    expect(lines.join('\n')).not.toContain('s3cret-pw');
    expect(lines).toContain(ENCRYPTION_KEY_WARNING);
    expect(banner('127.0.0.1', 'sqlite::memory:', ':memory:')).toContain(
      '  database:  SQLite in memory (everything is lost when it stops)',
    );
  });
});

forEachDialect('the HOOKDESK_ENCRYPTION_KEY warning at start', (h) => {
  it('warns exactly when provider channels would be refused', async () => {
    const org = await h.createOrg();
    for (const key of [undefined, TEST_ENCRYPTION_KEY]) {
      const api = await start(['api'], {
        DATABASE_URL: h.databaseUrl,
        LOG_LEVEL: 'silent',
        ...(key ? { HOOKDESK_ENCRYPTION_KEY: key } : {}),
      });
      const warned = api.stderr.includes(ENCRYPTION_KEY_WARNING);
      const channel = await call(api.base, 'POST', '/api/channels', TWILIO_SMS, org.apiKey);
      await stop(api.child);
      // Only PostgreSQL without a key refuses channels (SQLite keeps a key file beside the database).
      const refused = h.dialect === 'postgres' && key === undefined;
      expect(warned, api.stderr).toBe(refused);
      expect(channel.status, JSON.stringify(channel.body)).toBe(refused ? 409 : 201);
      // The database URL is shown without its password.
      if (h.dialect === 'postgres') {
        const u = new URL(h.databaseUrl);
        expect(api.stderr).toContain(
          `  database:  PostgreSQL postgres://${u.username || 'postgres'}@${u.hostname}:${u.port || '5432'}${u.pathname}\n`,
        );
        if (u.password) expect(api.stderr).not.toContain(u.password);
      }
    }
  }, 120_000);
});
