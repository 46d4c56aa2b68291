/**
 * What `serve`, `api` and `worker` tell the person who started them, whatever
 * LOG_LEVEL: where the console, the API docs and the health checks are, which
 * database is used, and what needs attention (development mode, a missing
 * encryption key). Plain lines, built here as data and printed by main.ts
 * beside the first-start API key: a newcomer should not have to read JSON logs
 * or meet a 409 to learn them.
 */
import { isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import type { Config } from '../config.js';
import { hasKeySource } from '../channels/vault.js';
import { printableDatabaseUrl } from './startup-errors.js';

/** The one line `--dev` adds at start (docs/operations.md, "Development mode"). */
export const DEV_MODE_LINE =
  'DEVELOPMENT MODE: webhooks may be sent over plain HTTP and to loopback addresses (127.0.0.0/8, ::1, localhost). Never use --dev in production.';

/** Printed when provider channels would be refused for want of a key. */
export const ENCRYPTION_KEY_WARNING =
  'Warning: HOOKDESK_ENCRYPTION_KEY is not set, so provider channels cannot be created or used on this PostgreSQL database until it is (the same key on every process); generate one with: openssl rand -hex 32';

export interface BannerInput {
  readonly version: string;
  readonly roles: { readonly api: boolean; readonly worker: boolean };
  readonly config: Pick<Config, 'host' | 'databaseUrl' | 'encryptionKey' | 'dev'>;
  /** The port the API listens on (the real one when PORT=0); undefined without the API. */
  readonly port: number | undefined;
  /** `DatabaseHandle.localFile`: the SQLite file, undefined on PostgreSQL. */
  readonly localFile: string | undefined;
}

/** The lines printed once the process is up, in order. */
export function startupBanner(input: BannerInput): string[] {
  const { roles, config, port } = input;
  const lines: string[] = [];
  if (config.dev) lines.push(DEV_MODE_LINE);
  const what =
    roles.api && roles.worker
      ? 'API and worker'
      : roles.api
        ? 'API only (webhooks are sent by `hookdesk worker`)'
        : 'worker only (no HTTP listener)';
  lines.push(`Hookdesk ${input.version} is running: ${what}.`);
  if (roles.api && port !== undefined) {
    const base = `http://${urlHost(config.host)}:${port}`;
    lines.push(
      `  console:   ${base}/`,
      `  API docs:  ${base}/docs`,
      `  health:    ${base}/healthz and ${base}/readyz`,
    );
  }
  lines.push(`  database:  ${describeDatabase(config.databaseUrl, input.localFile)}`);
  if (roles.api && !hasKeySource(config.encryptionKey, input.localFile))
    lines.push(ENCRYPTION_KEY_WARNING);
  return lines;
}

/**
 * The host a browser on this machine uses: a wildcard listen address
 * (HOST=0.0.0.0, the default, or ::) is reached as `localhost`.
 */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '[::]' || host === '') return 'localhost';
  return isIPv6(host) ? `[${host}]` : host;
}

function describeDatabase(databaseUrl: string, localFile: string | undefined): string {
  if (localFile === ':memory:') return 'SQLite in memory (everything is lost when it stops)';
  // Absolute, so "where is my data?" has an answer whatever the working directory was.
  if (localFile !== undefined) return `SQLite ${resolve(localFile)}`;
  return `PostgreSQL ${printableDatabaseUrl(databaseUrl)}`;
}
