/**
 * Start-up failures an operator fixes by changing a setting (port in use,
 * PostgreSQL down, database missing, wrong login) become one plain line naming
 * the setting and the fix; main.ts prints it and exits 1 instead of logging a
 * stack. Anything not recognised here is returned unchanged.
 */

/** A start-up failure whose message is the whole story: printed as is, one line. */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  // Node's happy-eyeballs connect throws an AggregateError of per-address errors.
  if (error instanceof AggregateError) return error.errors.map(codeOf).find(Boolean);
  return undefined;
}

/** The HTTP listener could not bind `host:port`. */
export function listenStartupError(error: unknown, host: string, port: number): unknown {
  const code = codeOf(error);
  if (code === 'EADDRINUSE')
    return new StartupError(
      `Port ${port} is in use on ${host}: stop the other process, or set PORT to a free port (PORT=${port + 1} npm start).`,
      { cause: error },
    );
  if (code === 'EADDRNOTAVAIL' || code === 'EACCES')
    return new StartupError(
      `Cannot listen on ${host}:${port} (${code}): set HOST and PORT to an address this machine can use.`,
      { cause: error },
    );
  return error;
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);

/** What a PostgreSQL DATABASE_URL points at, without its password; undefined for anything else. */
interface PostgresTarget {
  host: string;
  port: string;
  db: string;
  user: string;
  /** `postgres://host:port/db`: no credentials, no query (which may carry a password too). */
  where: string;
}

function postgresTarget(url: string): PostgresTarget | undefined {
  if (!/^postgres(ql)?:\/\//.test(url)) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const host = u.hostname || 'localhost';
  const port = u.port || '5432';
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  const user = decodeURIComponent(u.username) || 'postgres';
  // Credentials stripped: the password must never reach a terminal or a log.
  return { host, port, db, user, where: `postgres://${host}:${port}/${db}` };
}

/**
 * DATABASE_URL as it may be shown on a terminal: a PostgreSQL URL as
 * `postgres://user@host:port/db` (no password, no query string), anything
 * else unchanged.
 */
export function printableDatabaseUrl(url: string): string {
  const target = postgresTarget(url);
  if (!target) return url;
  return target.where.replace('postgres://', `postgres://${encodeURIComponent(target.user)}@`);
}

/** The first connection to PostgreSQL failed; `url` is DATABASE_URL. */
export function databaseStartupError(error: unknown, url: string): unknown {
  const target = postgresTarget(url);
  if (!target) return error;
  const { host, port, db, user, where } = target;
  const code = codeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  if (code === '3D000')
    return new StartupError(
      `Database "${db}" does not exist (DATABASE_URL): create it with createdb -h ${host} -p ${port} -U ${user} ${db}.`,
      { cause: error },
    );
  if (code === '28P01' || code === '28000')
    return new StartupError(
      `PostgreSQL refused the login of user "${user}" (DATABASE_URL): check the user and password.`,
      { cause: error },
    );
  if ((code && UNREACHABLE.has(code)) || /timeout/i.test(message)) {
    const reason = code && UNREACHABLE.has(code) ? code : 'connection timed out';
    return new StartupError(
      `Cannot reach the database at ${where} (DATABASE_URL): ${reason}. Is PostgreSQL running?`,
      { cause: error },
    );
  }
  return error;
}
