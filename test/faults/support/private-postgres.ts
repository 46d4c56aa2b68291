/**
 * A private PostgreSQL server for one fault test, so the test can stop and
 * restart it without touching the shared server other test runs use.
 *
 * initdb into a temporary directory, trust authentication, listening on
 * 127.0.0.1 only at a free port, its Unix socket in that directory too.
 * PostgreSQL refuses to run as root: when the suite runs as root, every
 * pg_ctl/initdb call goes through `runuser -u postgres`.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { adminQuery } from '../../support/postgres.js';
import { freePort } from '../../support/cli.js';

const run = promisify(execFile);

/** The newest `/usr/lib/postgresql/<version>/bin` that has initdb and pg_ctl, if any. */
export function findPostgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(root, v, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  return null;
}

/** Why a private server cannot be started here, or null when it can. */
export function privatePostgresUnavailable(): string | null {
  if (!findPostgresBin()) return 'no PostgreSQL server binaries in /usr/lib/postgresql/*/bin';
  if (userInfo().uid === 0 && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser'))
    return 'running as root without runuser to drop to the postgres user';
  return null;
}

export class PrivatePostgres {
  private constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
    private readonly asUser: string | null,
  ) {}

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** `postgres://postgres@127.0.0.1:<port>/<database>` */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  static async create(): Promise<PrivatePostgres> {
    const bin = findPostgresBin();
    if (!bin) throw new Error('no PostgreSQL server binaries found');
    const dir = mkdtempSync(join(tmpdir(), 'hookdesk-pg-'));
    const asUser = userInfo().uid === 0 ? 'postgres' : null;
    if (asUser) {
      const { stdout } = await run('id', ['-u', asUser]);
      const { stdout: gid } = await run('id', ['-g', asUser]);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    const pg = new PrivatePostgres(bin, dir, await freePort(), asUser);
    await pg.exec('initdb', [
      '-D',
      pg.dataDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
      '--encoding=UTF8',
      '--locale=C',
    ]);
    await pg.start();
    return pg;
  }

  /** Starts the server and waits until it accepts connections (pg_ctl -w). */
  async start(): Promise<void> {
    await this.exec('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      join(this.dir, 'server.log'),
      '-w',
      '-t',
      '30',
      '-o',
      [
        `-p ${this.port}`,
        `-k ${this.dir}`,
        '-c listen_addresses=127.0.0.1',
        // A throwaway server: durability against power loss is not what this tests.
        '-c fsync=off',
        '-c max_connections=100',
      ].join(' '),
      'start',
    ]);
  }

  /** Stops the server; `fast` (default) disconnects every client and rolls back their transactions. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '30', 'stop']);
  }

  async query(database: string, statement: string): Promise<void> {
    await adminQuery(this.url(database), statement);
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Stops the server (if running) and removes its directory. */
  async destroy(): Promise<void> {
    try {
      if (existsSync(join(this.dataDir, 'postmaster.pid'))) await this.stop('immediate');
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private async exec(tool: string, args: string[]): Promise<void> {
    const path = join(this.bin, tool);
    const [file, argv] = this.asUser
      ? ['runuser', ['-u', this.asUser, '--', path, ...args]]
      : [path, args];
    try {
      await run(file, argv, { timeout: 60_000, cwd: this.dir });
    } catch (error) {
      const e = error as Error & { stderr?: string; stdout?: string };
      throw new Error(
        `${tool} ${args.at(-1)} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}\n${this.log().slice(-2000)}`,
        { cause: error },
      );
    }
  }
}
