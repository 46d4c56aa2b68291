#!/usr/bin/env node
/**
 * The `hookdesk` command. Each subcommand parses configuration once, opens
 * the database and migrates it before doing its work.
 */
import { Command, Option } from 'commander';
import { systemClock } from '../clock.js';
import { ConfigError, loadConfig, type Config, type ConfigOptions } from '../config.js';
import type { Role } from '../db/schema.js';
import { StorageError } from '../db/storage-error.js';
import { createLogger } from '../logger.js';
import { createOrganization } from '../orgs/organizations.js';
import { createKeyForOrganization, parseRole, UsageError } from './key.js';
import { prepareDatabase, type Prepared } from './runtime.js';
import { VERSION } from '../version.js';
import { parseForwardTo, parsePort, parseSecret, parseStatus, runListen } from './listen.js';
import { runServer, type Roles, type Running, type ServerHooks } from './server.js';
import { startupBanner } from './banner.js';
import { StartupError } from './startup-errors.js';

function config(options: ConfigOptions = {}): Config {
  // A .env file in the working directory is read if present; real environment variables win.
  try {
    process.loadEnvFile();
  } catch {
    /* no .env file */
  }
  return loadConfig(process.env, options);
}

function announceBootstrap(prepared: Prepared): void {
  const created = prepared.bootstrap.created;
  if (!created) return;
  // Printed to the terminal, never through the logger: logs must not carry keys.
  const lines = [
    `Created the default organization ${created.organizationId} with admin user ${created.adminUserId}.`,
    prepared.bootstrap.generatedKey
      ? `Its API key (shown once, store it now): ${created.apiKey}`
      : 'Its API key is the value of HOOKDESK_BOOTSTRAP_API_KEY.',
  ];
  process.stderr.write(lines.join('\n') + '\n');
}

/** Where everything is, printed whatever LOG_LEVEL (src/cli/banner.ts). */
function announceRunning(cfg: Config, running: Running): void {
  const lines = startupBanner({
    version: VERSION,
    roles: running.roles,
    config: cfg,
    port: running.port,
    localFile: running.database.localFile,
  });
  process.stderr.write(lines.join('\n') + '\n');
}

/** `serve`, `api` and `worker`: the roles, and `--dev` (docs/operations.md, "Development mode"). */
function runRoles(roles: Roles, opts: { dev?: boolean }): Promise<void> {
  const cfg = config({ dev: opts.dev === true });
  const hooks: ServerHooks = {
    onPrepared: announceBootstrap,
    onRunning: (running) => announceRunning(cfg, running),
  };
  return runServer(cfg, roles, hooks);
}

const DEV_OPTION_HELP =
  'development mode: webhooks may use plain http:// and reach loopback addresses (127.0.0.0/8, ::1, localhost) on any port; refused when NODE_ENV=production';

const program = new Command()
  .name('hookdesk')
  .description(
    'Hookdesk: help-desk webhooks, outgoing and incoming. Configured by environment variables (see README).',
  )
  .version(VERSION);

program
  .command('serve')
  .description(
    'Run the HTTP API and the delivery worker in one process (what `npm start` runs; `npm run dev` runs it with --dev).',
  )
  .option('--dev', DEV_OPTION_HELP)
  .addHelpText(
    'after',
    `
Once started it prints where the console, /docs and the health checks are and
which database it uses, whatever LOG_LEVEL.

Example, trying webhooks on one machine (with hookdesk listen in another terminal):
  hookdesk serve --dev`,
  )
  .action(async (opts: { dev?: boolean }) => runRoles({ api: true, worker: true }, opts));

program
  .command('api')
  .description('Run only the HTTP API.')
  .option(
    '--dev',
    `${DEV_OPTION_HELP} (checked when webhooks are created; give it to the worker too)`,
  )
  .action(async (opts: { dev?: boolean }) => runRoles({ api: true, worker: false }, opts));

program
  .command('worker')
  .description('Run only the background worker (no HTTP listener).')
  .option('--dev', `${DEV_OPTION_HELP} (checked on each delivery; give it to the API too)`)
  .action(async (opts: { dev?: boolean }) => runRoles({ api: false, worker: true }, opts));

program
  .command('migrate')
  .description('Apply pending database migrations and exit.')
  .action(async () => {
    const cfg = config();
    const prepared = await prepareDatabase(cfg, systemClock);
    announceBootstrap(prepared);
    const applied = prepared.migrations.applied;
    process.stdout.write(
      applied.length ? `Applied: ${applied.join(', ')}\n` : 'Database is up to date.\n',
    );
    await prepared.database.close();
  });

const org = program.command('org').description('Manage organizations.');
org
  .command('create')
  .description('Create an organization with an admin user and an API key, and print them.')
  .requiredOption('--name <name>', 'organization name')
  .requiredOption('--admin-email <email>', "the first admin's email")
  .addOption(new Option('--admin-name <name>', "the first admin's display name"))
  .option('--json', 'print {organizationId, adminUserId, apiKey} as JSON')
  .action(
    async (opts: { name: string; adminEmail: string; adminName?: string; json?: boolean }) => {
      const name = opts.name.trim();
      if (name.length < 1 || name.length > 200)
        throw new UsageError('--name must be 1 to 200 characters');
      if (!/^[^\s@]+@[^\s@]+$/.test(opts.adminEmail))
        throw new UsageError('--admin-email is not an email address');
      const cfg = config();
      const prepared = await prepareDatabase(cfg, systemClock);
      try {
        const created = await prepared.database.db.transaction().execute((trx) =>
          createOrganization(trx, systemClock, {
            name,
            adminEmail: opts.adminEmail,
            ...(opts.adminName ? { adminName: opts.adminName } : {}),
          }),
        );
        process.stdout.write(
          opts.json
            ? JSON.stringify(created) + '\n'
            : `organizationId: ${created.organizationId}\nadminUserId: ${created.adminUserId}\napiKey: ${created.apiKey}\n`,
        );
      } finally {
        await prepared.database.close();
      }
    },
  );

const key = program.command('key').description('Manage API keys.');
key
  .command('create')
  .description(
    'Create an API key for an existing organization (for example to replace a lost bootstrap key) and print it once. Nothing else changes.',
  )
  .requiredOption('--org <organization>', "the organization's id or exact name")
  .addOption(
    new Option('--role <role>', 'act as the oldest user with this role: admin or agent')
      .default('admin')
      .argParser(parseRole),
  )
  .option('--name <label>', 'label shown in GET /api/api-keys', 'Created with hookdesk key create')
  .option('--json', 'print {organizationId, userId, role, apiKeyId, apiKey} as JSON')
  .addHelpText(
    'after',
    `
The key is printed on stdout only; its hash is stored. Without a list of
organizations at hand, pass any --org: the error names the existing ones.

Example:
  hookdesk key create --org "Default organization" --role admin`,
  )
  .action(async (opts: { org: string; role: Role; name: string; json?: boolean }) => {
    const name = opts.name.trim();
    if (name.length < 1 || name.length > 200)
      throw new UsageError('--name must be 1 to 200 characters');
    const prepared = await prepareDatabase(config(), systemClock);
    try {
      const created = await createKeyForOrganization(prepared.database.db, systemClock, {
        org: opts.org.trim(),
        role: opts.role,
        name,
      });
      // stdout only, never the logger: logs must not carry keys.
      process.stdout.write(
        opts.json
          ? JSON.stringify(created) + '\n'
          : `organizationId: ${created.organizationId}\nuserId: ${created.userId} (${created.role})\napiKey: ${created.apiKey}\n`,
      );
    } finally {
      await prepared.database.close();
    }
  });

program
  .command('listen')
  .description(
    'Run a small local webhook receiver that prints every POST it gets (event, delivery id, attempt number, signature verdict, body), or relays each to your app with --forward-to. Standalone: it opens no database and reads no Hookdesk configuration.',
  )
  .addOption(new Option('--port <port>', 'port to listen on').default(4000).argParser(parsePort))
  .addOption(new Option('--host <host>', 'address to listen on').default('127.0.0.1'))
  .addOption(
    new Option(
      '--secret <secret>',
      "the webhook's secret; X-Webhook-Signature and webhook-signature are checked with it",
    )
      .env('HOOKDESK_LISTEN_SECRET')
      .argParser(parseSecret),
  )
  .addOption(
    new Option('--status <code>', 'HTTP status to answer every POST with (200 to 599)')
      .default(200)
      .argParser(parseStatus)
      .conflicts('forwardTo'),
  )
  .addOption(
    new Option(
      '--forward-to <url>',
      'relay each POST to exactly this http(s) URL and answer what it answers',
    ).argParser(parseForwardTo),
  )
  .addHelpText(
    'after',
    `
It answers {"received":true} with --status, and 413 to bodies over 64 KiB.
A non-2xx --status answers a body saying the failure is simulated, to watch
Hookdesk retry.

Attempt numbers are counted by this listener: Hookdesk sends the same
delivery id (X-Webhook-Delivery, webhook-id) on every attempt and no attempt
number, so "attempt: 2 (retry 1; …)" means the second request with that id
this listener saw since it started (it remembers the last 10,000 ids).

--forward-to relays each POST to exactly the URL given (the path Hookdesk
posted to is not appended; its query string is dropped): same method, the
body bytes unchanged, and the headers Hookdesk sent except host,
content-length, accept-encoding and hop-by-hop headers. The listener then
answers Hookdesk with the app's status, content type and the first 4 KiB of
its body, so the delivery log shows what the app said. With --secret a
request whose signature is missing or INVALID is not forwarded and is
answered 400; without --secret every request is forwarded unchecked. An app
that cannot be reached, or does not answer within 10 s, is answered 502.
--forward-to and --status cannot be used together.

Plain HTTP on loopback, for development: let Hookdesk deliver to it with
  npm run dev          (hookdesk serve --dev)
or
  HOOKDESK_EGRESS_ALLOW_HTTP=true HOOKDESK_EGRESS_ALLOW=127.0.0.1:4000 npm start
and a webhook whose url is http://127.0.0.1:4000/hooks.

Examples:
  hookdesk listen --secret local-test-secret-1234
  hookdesk listen --secret local-test-secret-1234 --forward-to http://127.0.0.1:8080/webhooks`,
  )
  .action(
    async (opts: {
      port: number;
      host: string;
      secret?: string;
      status: number;
      forwardTo?: URL;
    }) => runListen(opts),
  );

program.parseAsync(process.argv).catch((error: unknown) => {
  // A database file that cannot be opened or written (disk full, read-only), a port in use, an
  // unreachable PostgreSQL: one line, exit once.
  if (
    error instanceof ConfigError ||
    error instanceof UsageError ||
    error instanceof StorageError ||
    error instanceof StartupError
  ) {
    process.stderr.write(`hookdesk: ${error.message}\n`);
  } else {
    createLogger('error').fatal({ err: error }, 'hookdesk failed to start');
  }
  process.exit(1);
});
