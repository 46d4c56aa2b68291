import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, runCli, startCli, stop, waitForOk } from './support/cli.js';
import { forEachDialect } from './support/harness.js';
import { adminUrl, uniqueDbName, withDatabase } from './support/postgres.js';

const dir = mkdtempSync(join(tmpdir(), 'hookdesk-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hookdesk CLI', () => {
  it('prints help for every command', async () => {
    for (const args of [
      ['--help'],
      ['serve', '--help'],
      ['api', '--help'],
      ['worker', '--help'],
      ['migrate', '--help'],
      ['org', 'create', '--help'],
      ['key', 'create', '--help'],
    ]) {
      const res = await runCli(args, {});
      expect(res.code, args.join(' ')).toBe(0);
      expect(res.stdout).toContain('Usage: hookdesk');
    }
  });

  it('stops with one line naming a bad variable', async () => {
    const res = await runCli(['migrate'], {
      PORT: 'eighty',
      DATABASE_URL: `sqlite:${join(dir, 'bad.db')}`,
    });
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain('PORT');
  });

  it('org create --json prints a working organization, admin and key', async () => {
    const url = `sqlite:${join(dir, 'org.db')}`;
    const res = await runCli(
      ['org', 'create', '--name', 'Acme', '--admin-email', 'ops@acme.test', '--json'],
      {
        DATABASE_URL: url,
      },
    );
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(Object.keys(out).sort()).toEqual(['adminUserId', 'apiKey', 'organizationId']);
    expect(out.apiKey).toMatch(/^hdk_/);
    const bad = await runCli(['org', 'create', '--name', 'X', '--admin-email', 'not-an-email'], {
      DATABASE_URL: url,
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--admin-email');
  });

  it('serve bootstraps a default organization on an empty database, answers health checks, and the key creates a ticket', async () => {
    const port = await freePort();
    const key = 'hdk_test_bootstrap_key_0123456789';
    const child = startCli(['serve'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${join(dir, 'serve.db')}`,
      HOOKDESK_BOOTSTRAP_API_KEY: key,
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    try {
      expect(await waitForOk(`http://127.0.0.1:${port}/readyz`)).toBe(true);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const res = await fetch(`http://127.0.0.1:${port}/api/tickets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          subject: 'Printer on fire',
          requester: { email: 'pat@example.com' },
        }),
      });
      expect(res.status).toBe(201);
      expect(output).not.toContain(key);
    } finally {
      await stop(child);
    }
  });

  it('prints a generated bootstrap key once, and never into the logs', async () => {
    const port = await freePort();
    const child = startCli(['api'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${join(dir, 'gen.db')}`,
      LOG_LEVEL: 'info',
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      expect(await waitForOk(`http://127.0.0.1:${port}/readyz`)).toBe(true);
      const key = /hdk_[A-Za-z0-9_-]{43}/.exec(stderr)?.[0];
      expect(key).toBeDefined();
      const res = await fetch(`http://127.0.0.1:${port}/api/users`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(res.status).toBe(200);
      expect(stdout).not.toContain(key);
    } finally {
      await stop(child);
    }
    // A second start finds the organization and prints no key.
    const again = await runCli(['migrate'], { DATABASE_URL: `sqlite:${join(dir, 'gen.db')}` });
    expect(again.code).toBe(0);
    expect(again.stderr + again.stdout).not.toMatch(/hdk_/);
  });
});

forEachDialect('hookdesk key create', (h) => {
  it('prints a new key for an existing organization that authenticates as its admin', async () => {
    const org = await h.createOrg('Key Recovery Ltd');
    for (const orgArg of [org.organizationId, 'Key Recovery Ltd']) {
      const res = await runCli(['key', 'create', '--org', orgArg, '--json'], {
        DATABASE_URL: h.databaseUrl,
        LOG_LEVEL: 'info',
      });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).toBe('');
      const out = JSON.parse(res.stdout);
      expect(Object.keys(out).sort()).toEqual([
        'apiKey',
        'apiKeyId',
        'organizationId',
        'role',
        'userId',
      ]);
      expect(out).toMatchObject({
        organizationId: org.organizationId,
        userId: org.adminUserId,
        role: 'admin',
      });
      expect(out.apiKey).toMatch(/^hdk_[A-Za-z0-9_-]{43}$/);
      // The app's own authentication accepts it; only the hash is stored.
      const users = await h.request({ method: 'GET', url: '/api/users', key: out.apiKey });
      expect(users.statusCode).toBe(200);
      const stored = await h.db
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', out.apiKeyId)
        .executeTakeFirstOrThrow();
      expect(stored.name).toBe('Created with hookdesk key create');
      expect(JSON.stringify(stored)).not.toContain(out.apiKey);
    }
  });

  it('acts as an agent with --role agent, and says so when the organization has none', async () => {
    const org = await h.createOrg();
    const noAgent = await runCli(
      ['key', 'create', '--org', org.organizationId, '--role', 'agent'],
      {
        DATABASE_URL: h.databaseUrl,
      },
    );
    expect(noAgent.code).toBe(1);
    expect(noAgent.stderr.trim().split('\n')).toHaveLength(1);
    expect(noAgent.stderr).toContain('has no agent user');
    const agent = await h.request({
      method: 'POST',
      url: '/api/users',
      key: org.apiKey,
      payload: { email: 'agent@example.com', name: 'Agent', role: 'agent' },
    });
    expect(agent.statusCode).toBe(201);
    const res = await runCli(
      ['key', 'create', '--org', org.organizationId, '--role', 'agent', '--name', 'laptop'],
      { DATABASE_URL: h.databaseUrl },
    );
    expect(res.code, res.stderr).toBe(0);
    const key = /^apiKey: (hdk_\S+)$/m.exec(res.stdout)?.[1];
    expect(key).toBeDefined();
    expect(res.stdout).toContain(`userId: ${agent.json().id} (agent)`);
    // An agent key authenticates but may not use admin endpoints.
    expect((await h.request({ method: 'GET', url: '/api/tickets', key })).statusCode).toBe(200);
    expect((await h.request({ method: 'GET', url: '/api/api-keys', key })).statusCode).toBe(403);
  });

  it('answers an unknown organization or a bad role with one line and exit code 1', async () => {
    const org = await h.createOrg();
    const unknown = await runCli(['key', 'create', '--org', 'No Such Org'], {
      DATABASE_URL: h.databaseUrl,
    });
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    const lines = unknown.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^hookdesk: no organization with id or name "No Such Org"; pass one of: /,
    );
    expect(lines[0]).toContain(org.organizationId);
    const unknownId = await runCli(
      ['key', 'create', '--org', '00000000-0000-7000-8000-000000000000'],
      { DATABASE_URL: h.databaseUrl },
    );
    expect(unknownId.code).toBe(1);
    expect(unknownId.stderr.trim().split('\n')).toHaveLength(1);
    const role = await runCli(['key', 'create', '--org', org.organizationId, '--role', 'owner'], {
      DATABASE_URL: h.databaseUrl,
    });
    expect(role.code).toBe(1);
    expect(role.stderr.trim()).toBe('hookdesk: --role must be admin or agent, not "owner"');
  });
});

describe('start-up failures are one plain line and exit code 1', () => {
  const oneLine = (res: { code: number | null; stderr: string }) => {
    expect(res.code, res.stderr).toBe(1);
    const lines = res.stderr.trim().split('\n');
    expect(lines, res.stderr).toHaveLength(1);
    expect(res.stderr).not.toContain('"level"');
    return lines[0]!;
  };

  it('names PORT when the port is in use', async () => {
    const url = `sqlite:${join(dir, 'port-in-use.db')}`;
    // Migrated first, so serve prints no bootstrap lines of its own.
    expect((await runCli(['migrate'], { DATABASE_URL: url })).code).toBe(0);
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const res = await runCli(['serve'], {
        DATABASE_URL: url,
        PORT: String(port),
        HOST: '127.0.0.1',
      });
      const line = oneLine(res);
      expect(line).toContain(`Port ${port} is in use`);
      expect(line).toContain('PORT');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('names DATABASE_URL, without the password, when PostgreSQL is unreachable', async () => {
    const res = await runCli(['migrate'], {
      DATABASE_URL: 'postgres://postgres:s3cret-pw@127.0.0.1:1/x',
    });
    const line = oneLine(res);
    expect(line).toContain('Cannot reach the database at postgres://127.0.0.1:1/x (DATABASE_URL)');
    expect(line).not.toContain('s3cret-pw');
  });

  const pgUrl = adminUrl();
  it.skipIf(!pgUrl)('says how to create a missing database', async () => {
    const name = uniqueDbName('hookdesk_missing_db');
    const res = await runCli(['migrate'], { DATABASE_URL: withDatabase(pgUrl!, name) });
    const line = oneLine(res);
    expect(line).toContain(`Database "${name}" does not exist (DATABASE_URL)`);
    expect(line).toContain(`createdb`);
  });
});
