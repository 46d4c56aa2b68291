/**
 * Configuration is read from the environment once, validated, and frozen.
 * Everything downstream receives the `Config` object; nothing else reads
 * `process.env`. A bad value stops the process with one line naming the
 * variable (see `ConfigError`).
 */
import { existsSync } from 'node:fs';
import { parseAllowList } from './egress/allow-list.js';
import { parseTrustProxy, type TrustProxy } from './http/trust-proxy.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  /** HTTP port. (Default: 3000) */
  readonly port: number;
  /** HTTP listen address. (Default: "0.0.0.0") */
  readonly host: string;
  /** `sqlite:PATH` or `postgres://…`. (Default: "sqlite:./data/hookdesk.db") */
  readonly databaseUrl: string;
  /** Base URL used in callback URLs. (Default: "http://localhost:PORT") */
  readonly publicUrl: string;
  /** Key given to the default organization created on first start. (Default: unset) */
  readonly bootstrapApiKey: string | undefined;
  /** Hosts, IPs or CIDRs (optionally with `:port`) exempt from the SSRF rules. (Default: empty) */
  readonly egressAllow: readonly string[];
  /** Allow `http://` webhook URLs (development only). (Default: false) */
  readonly egressAllowHttp: boolean;
  /** Extra PEM CA bundle trusted for deliveries. (Default: unset) */
  readonly egressCaFile: string | undefined;
  /** Whole-request timeout of one delivery attempt, in ms. (Default: 10000) */
  readonly deliveryTimeoutMs: number;
  /** Delivery attempts in flight per worker process. (Default: 32) */
  readonly workerConcurrency: number;
  /**
   * Delivery threads per process that runs the worker, each with its own
   * connection and a share of `workerConcurrency`. (Default: 1)
   */
  readonly workerThreads: number;
  /**
   * Percentage of a delivery worker's slots that one organization, and one
   * destination host, may hold with deliveries to slow or silent endpoints
   * (see src/delivery/fairness.ts). (Default: 25)
   */
  readonly workerSlowSharePercent: number;
  /** Webhooks (ticket and survey webhooks together) one organization may have. (Default: 100) */
  readonly maxWebhooksPerOrganization: number;
  /** SMTP server URL for admin notifications and ticket email. (Default: unset: mail is logged) */
  readonly smtpUrl: string | undefined;
  /** From address of outgoing mail. (Default: "Hookdesk <hookdesk@localhost>") */
  readonly mailFrom: string;
  /** Age in days after which finished deliveries are pruned. (Default: 30) */
  readonly retentionDays: number;
  /** pino level. (Default: "info") */
  readonly logLevel: LogLevel;
  /** Largest accepted request body, in bytes. (Default: 1048576) */
  readonly bodyLimitBytes: number;
  /**
   * Requests per minute each source IP, and each organization, may make to
   * each public email endpoint; counted in memory per process. (Default: 600)
   */
  readonly inboundRateLimit: number;
  /** Time to receive a whole request, headers and body, in ms; then 408. (Default: 30000) */
  readonly requestTimeoutMs: number;
  /**
   * Time to receive a request's headers (on a new connection: counted from
   * its opening), in ms; then 408. At most `requestTimeoutMs`. (Default: 10000)
   */
  readonly headersTimeoutMs: number;
  /** How long an idle kept-alive connection stays open between requests, in ms. (Default: 72000) */
  readonly keepAliveTimeoutMs: number;
  /**
   * A connection on which no byte moves either way for this long is closed,
   * in ms; longer than `deliveryTimeoutMs`, which `POST …/test` may wait in
   * silence. (Default: 120000, or `deliveryTimeoutMs` + 30000 when larger)
   */
  readonly connectionTimeoutMs: number;
  /** Whose `X-Forwarded-For` decides a request's source address. (Default: false: nobody's) */
  readonly trustProxy: TrustProxy;
  /**
   * Provider callbacks that fail authentication, per minute, that one source
   * may send to one channel's URLs (ten times that over all channels) before
   * its requests are refused with 429; counted in memory per process. (Default: 30)
   */
  readonly providerFailureLimit: number;
  /**
   * 32-byte AES-256-GCM key for channel credentials at rest. (Default: unset:
   * on SQLite a key file beside the database is created and used; on
   * PostgreSQL channels cannot be created until it is set)
   */
  readonly encryptionKey: Buffer | undefined;
  /**
   * Development mode (`--dev` on `serve`, `api` and `worker`): `egressAllowHttp`
   * is on and `egressAllow` also holds `DEV_EGRESS_ALLOW`, so webhooks can reach
   * a receiver on this machine. Refused when NODE_ENV=production. (Default: false)
   */
  readonly dev: boolean;
}

/** What `--dev` adds to HOOKDESK_EGRESS_ALLOW: every loopback address and name, on any port. */
export const DEV_EGRESS_ALLOW: readonly string[] = ['127.0.0.0/8', '::1', 'localhost'];

/** How the command line changes what the environment says. */
export interface ConfigOptions {
  /** `--dev`: see `Config.dev`. (Default: false) */
  readonly dev?: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, dflt: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return dflt;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max)
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, dflt: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return dflt;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function url(name: string, raw: string, protocols: readonly string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `is not a valid URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
  }
  return raw;
}

/** 32 bytes as 64 hex digits or base64 (standard or URL-safe, padding optional). */
function encryptionKey(env: Env): Buffer | undefined {
  const name = 'HOOKDESK_ENCRYPTION_KEY';
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  if (/^[0-9a-f]{64}$/i.test(raw)) return Buffer.from(raw, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(raw)) {
    const key = Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === 32) return key;
  }
  throw new ConfigError(name, 'must be 32 bytes written as 64 hex digits or base64');
}

/** HTTP server timeouts, trusted proxies, provider-callback limits (see src/http/connections.ts). */
function httpSettings(env: Env, deliveryTimeoutMs: number) {
  const requestTimeoutMs = int(env, 'HOOKDESK_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000);
  const headersTimeoutMs = int(
    env,
    'HOOKDESK_HEADERS_TIMEOUT_MS',
    Math.min(10_000, requestTimeoutMs),
    100,
    3_600_000,
  );
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(
      'HOOKDESK_HEADERS_TIMEOUT_MS',
      `must be at most HOOKDESK_REQUEST_TIMEOUT_MS (${requestTimeoutMs}), got ${headersTimeoutMs}`,
    );
  }
  const connectionTimeoutMs = int(
    env,
    'HOOKDESK_CONNECTION_TIMEOUT_MS',
    Math.max(120_000, deliveryTimeoutMs + 30_000),
    1000,
    3_600_000,
  );
  if (connectionTimeoutMs <= deliveryTimeoutMs) {
    throw new ConfigError(
      'HOOKDESK_CONNECTION_TIMEOUT_MS',
      `must be greater than HOOKDESK_DELIVERY_TIMEOUT_MS (${deliveryTimeoutMs}), got ${connectionTimeoutMs}`,
    );
  }
  let trustProxy: TrustProxy;
  try {
    trustProxy = parseTrustProxy(str(env, 'HOOKDESK_TRUST_PROXY'));
  } catch (error) {
    throw new ConfigError('HOOKDESK_TRUST_PROXY', (error as Error).message);
  }
  return {
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs: int(env, 'HOOKDESK_KEEP_ALIVE_TIMEOUT_MS', 72_000, 100, 3_600_000),
    connectionTimeoutMs,
    trustProxy,
    providerFailureLimit: int(env, 'HOOKDESK_PROVIDER_FAILURE_LIMIT', 30, 1, 1_000_000),
  };
}

const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

/** Parses and validates configuration. Throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: Env = process.env, options: ConfigOptions = {}): Config {
  const dev = options.dev === true;
  // A production process must never loosen the SSRF rules by a flag left in a script.
  if (dev && str(env, 'NODE_ENV') === 'production') {
    throw new ConfigError(
      'NODE_ENV',
      '--dev is refused when NODE_ENV=production: development mode lets webhooks reach plain-HTTP and loopback URLs.',
    );
  }
  const port = int(env, 'PORT', 3000, 0, 65535);
  const databaseUrl = str(env, 'DATABASE_URL') ?? 'sqlite:./data/hookdesk.db';
  if (!/^sqlite:.+/.test(databaseUrl) && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must start with sqlite: or postgres://');
  }
  const publicUrl = url(
    'HOOKDESK_PUBLIC_URL',
    str(env, 'HOOKDESK_PUBLIC_URL') ?? `http://localhost:${port}`,
    ['http:', 'https:'],
  ).replace(/\/+$/, '');
  const bootstrapApiKey = str(env, 'HOOKDESK_BOOTSTRAP_API_KEY');
  if (bootstrapApiKey !== undefined && bootstrapApiKey.length < 20) {
    throw new ConfigError('HOOKDESK_BOOTSTRAP_API_KEY', 'must be at least 20 characters');
  }
  const egressCaFile = str(env, 'HOOKDESK_EGRESS_CA_FILE');
  if (egressCaFile !== undefined && !existsSync(egressCaFile)) {
    throw new ConfigError('HOOKDESK_EGRESS_CA_FILE', `file not found: ${egressCaFile}`);
  }
  const smtpUrl = str(env, 'HOOKDESK_SMTP_URL');
  if (smtpUrl !== undefined) url('HOOKDESK_SMTP_URL', smtpUrl, ['smtp:', 'smtps:']);
  const logLevel = (str(env, 'LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const egressAllow = (str(env, 'HOOKDESK_EGRESS_ALLOW') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  try {
    parseAllowList(egressAllow);
  } catch (error) {
    throw new ConfigError('HOOKDESK_EGRESS_ALLOW', (error as Error).message);
  }
  const deliveryTimeoutMs = int(env, 'HOOKDESK_DELIVERY_TIMEOUT_MS', 10_000, 100, 600_000);
  const config: Config = {
    port,
    host: str(env, 'HOST') ?? '0.0.0.0',
    databaseUrl,
    publicUrl,
    bootstrapApiKey,
    egressAllow: dev ? [...egressAllow, ...DEV_EGRESS_ALLOW] : egressAllow,
    egressAllowHttp: bool(env, 'HOOKDESK_EGRESS_ALLOW_HTTP', false) || dev,
    egressCaFile,
    deliveryTimeoutMs,
    workerConcurrency: int(env, 'HOOKDESK_WORKER_CONCURRENCY', 32, 1, 1024),
    workerThreads: int(env, 'HOOKDESK_WORKER_THREADS', 1, 1, 16),
    workerSlowSharePercent: int(env, 'HOOKDESK_WORKER_SLOW_SHARE', 25, 1, 100),
    maxWebhooksPerOrganization: int(env, 'HOOKDESK_MAX_WEBHOOKS_PER_ORG', 100, 1, 100_000),
    smtpUrl,
    mailFrom: str(env, 'HOOKDESK_MAIL_FROM') ?? 'Hookdesk <hookdesk@localhost>',
    retentionDays: int(env, 'HOOKDESK_RETENTION_DAYS', 30, 1, 3650),
    logLevel,
    bodyLimitBytes: int(env, 'HOOKDESK_BODY_LIMIT_BYTES', 1_048_576, 1024, 100 * 1_048_576),
    inboundRateLimit: int(env, 'HOOKDESK_INBOUND_RATE_LIMIT', 600, 1, 1_000_000),
    ...httpSettings(env, deliveryTimeoutMs),
    encryptionKey: encryptionKey(env),
    dev,
  };
  return Object.freeze(config);
}
