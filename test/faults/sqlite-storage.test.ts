/**
 * Faults of SQLite's storage, made real for root: a read-only database file
 * and a read-only directory (`chattr +i`, or a read-only bind mount where the
 * filesystem has no immutable flag), and a full disk (a small tmpfs filled to
 * the last block).
 *
 * Decided per case (docs/operations.md, "Failure behaviour"):
 * - read-only file, read-only directory, full disk at start: `hookdesk serve`
 *   exits once, code 1, with one stderr line naming the file and the problem;
 *   with the fault removed it starts and everything written before is intact.
 * - full disk while running: it stays up; writes and reads answer 503 in the
 *   error format, /readyz answers 503, a log line names the problem; once
 *   space returns it serves again by itself, no restart, and the deliveries
 *   of the tickets it accepted all arrive.
 * In every case the file passes `PRAGMA integrity_check` afterwards.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, stop, waitForOk } from '../support/cli.js';
import { CA_FILE, Receiver } from '../support/receiver.js';
import {
  ApiClient,
  HookdeskProcess,
  TEST_KEY,
  deliveryHeader,
  isErrorBody,
  sleep,
  until,
} from '../support/processes.js';
import {
  StorageLab,
  fillDisk,
  freeSpace,
  readOnlyUnavailable,
  tmpfsUnavailable,
} from './support/storage.js';

/** Attempt timeout; a lease is 2 × this + 5 s = 9 s. */
const TIMEOUT_MS = 2_000;
const TMPFS_BYTES = 8 * 1024 * 1024;

const noTmpfs = tmpfsUnavailable();
const noReadOnly = readOnlyUnavailable();
if (noTmpfs) process.stdout.write(`sqlite-storage: full-disk cases skipped: ${noTmpfs}\n`);
if (noReadOnly) process.stdout.write(`sqlite-storage: read-only cases skipped: ${noReadOnly}\n`);

function integrityCheck(file: string): string {
  const db = new SqliteDatabase(file);
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[])
      .map((r) => r.integrity_check)
      .join('; ');
  } finally {
    db.close();
  }
}

function ticketIds(file: string): Set<string> {
  const db = new SqliteDatabase(file, { readonly: true });
  try {
    return new Set(
      (db.prepare('select id from tickets').all() as { id: string }[]).map((r) => r.id),
    );
  } finally {
    db.close();
  }
}

describe('SQLite storage faults [sqlite]', () => {
  const receiver = new Receiver();
  const lab = new StorageLab();
  const procs: HookdeskProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    await receiver.start();
    receiver.respond = () => ({ status: 200, body: 'ok' });
  });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => stop(p.child)));
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => stop(p.child)));
    try {
      lab.restore();
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      await receiver.close();
    }
  });

  const newDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'hookdesk-storage-'));
    dirs.push(d);
    return d;
  };

  /** `hookdesk serve` on `file`, with its base URL and an API client. */
  const serve = async (name: string, file: string) => {
    const port = await freePort();
    const proc = new HookdeskProcess(name, ['serve'], {
      DATABASE_URL: `sqlite:${file}`,
      HOST: '127.0.0.1',
      PORT: String(port),
      HOOKDESK_BOOTSTRAP_API_KEY: TEST_KEY,
      HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
      HOOKDESK_EGRESS_CA_FILE: CA_FILE,
      HOOKDESK_DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
      LOG_LEVEL: 'info',
    });
    procs.push(proc);
    const base = `http://127.0.0.1:${port}`;
    return { proc, base, api: new ApiClient(base, TEST_KEY) };
  };

  const startReady = async (name: string, file: string) => {
    const s = await serve(name, file);
    expect(await waitForOk(`${s.base}/readyz`, 30_000), s.proc.describe()).toBe(true);
    return s;
  };

  const createTicket = (api: ApiClient, subject: string) =>
    api.call('POST', '/api/tickets', { subject, requester: { email: 'storage@example.com' } });

  /** A database with a webhook and `n` tickets, cleanly shut down; returns the ticket ids. */
  const seed = async (file: string, n = 3): Promise<string[]> => {
    const { proc, api } = await startReady('seed', file);
    const hook = await api.call('POST', '/api/webhooks', {
      name: 'storage',
      url: receiver.url('/storage'),
      events: ['ticket.created'],
    });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await createTicket(api, `Seed ${i}`);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      ids.push(res.body.id);
    }
    await stop(proc.child);
    expect((await proc.exited).code, proc.describe()).toBe(0);
    return ids;
  };

  /** Starts `serve` and expects it to exit once, code 1, with one stderr line matching `problem`. */
  const expectExitOnce = async (file: string, problem: RegExp) => {
    const { proc, base } = await serve('doomed', file);
    const exit = await Promise.race([proc.exited, sleep(30_000).then(() => null)]);
    expect(exit, `still running after 30 s\n${proc.describe()}`).not.toBeNull();
    expect(exit!.code, proc.describe()).toBe(1);
    const lines = proc.stderr.trim().split('\n');
    expect(lines, proc.describe()).toHaveLength(1);
    expect(lines[0]).toMatch(/^hookdesk: SQLite database \S+: /);
    expect(lines[0]).toContain(file);
    expect(lines[0]).toMatch(problem);
    // Nothing was served, nothing logged as a crash.
    expect(proc.lines.filter((l) => (l.level ?? 0) >= 50)).toEqual([]);
    expect(await waitForOk(`${base}/healthz`, 300)).toBe(false);
    return lines[0]!;
  };

  it.skipIf(noReadOnly !== null)(
    'a read-only database file: exits once saying so; writable again, it starts with everything intact',
    async () => {
      const dir = newDir();
      const file = join(dir, 'hookdesk.db');
      const seeded = await seed(file);
      const how = lab.makeReadOnly(file);
      const line = await expectExitOnce(file, /database is read-only/);
      lab.undoLast();
      expect(integrityCheck(file)).toBe('ok');

      const { api } = await startReady('after', file);
      const res = await createTicket(api, 'Writable again');
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const ids = ticketIds(file);
      for (const id of [...seeded, res.body.id]) expect(ids.has(id), id).toBe(true);
      console.log(`read-only file (${how}): ${line}`);
    },
    60_000,
  );

  it.skipIf(noReadOnly !== null)(
    'a read-only directory: exits once saying so, for a new and for an existing database; writable again, it starts',
    async () => {
      // A new database in a directory that cannot be written.
      const fresh = newDir();
      const freshFile = join(fresh, 'hookdesk.db');
      lab.makeReadOnly(fresh);
      const freshLine = await expectExitOnce(freshFile, /directory \S+ is not writable/);
      lab.undoLast();

      // An existing database (cleanly closed: no -wal/-shm left) in a directory made read-only.
      const dir = newDir();
      const file = join(dir, 'hookdesk.db');
      const seeded = await seed(file);
      const how = lab.makeReadOnly(dir);
      const line = await expectExitOnce(file, /not writable|read-only/);
      lab.undoLast();
      expect(integrityCheck(file)).toBe('ok');

      const { api } = await startReady('after', file);
      const res = await createTicket(api, 'Writable again');
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const ids = ticketIds(file);
      for (const id of [...seeded, res.body.id]) expect(ids.has(id), id).toBe(true);
      console.log(`read-only directory (${how}): new database: ${freshLine}`);
      console.log(`read-only directory (${how}): existing database: ${line}`);
    },
    60_000,
  );

  it.skipIf(noTmpfs !== null)(
    'a full disk while running: 503 and /readyz 503, it stays up, and it recovers without a restart once space returns',
    async () => {
      const dir = lab.mountTmpfs(TMPFS_BYTES);
      const file = join(dir, 'hookdesk.db');
      const filler = join(dir, 'filler');
      const { proc, api } = await startReady('serve', file);
      const pid = proc.pid;
      const hook = await api.call('POST', '/api/webhooks', {
        name: 'full',
        url: receiver.url('/full'),
        events: ['ticket.created'],
      });
      expect(hook.status, JSON.stringify(hook.body)).toBe(201);
      const created: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await createTicket(api, `Before ${i}`);
        expect(res.status).toBe(201);
        created.push(res.body.id);
      }

      const filled = fillDisk(filler);
      // Writes fail from here on, though a few small ones may still fit in the WAL's space.
      let refused: Awaited<ReturnType<typeof createTicket>> | null = null;
      for (let i = 0; i < 400 && !refused; i++) {
        const res = await createTicket(api, `Full ${i}`);
        if (res.status === 201) created.push(res.body.id);
        else refused = res;
      }
      expect(refused, 'no write failed on a full disk').not.toBeNull();
      if (refused!.status !== 503) await sleep(500); // let its log line arrive for the message
      expect(refused!.status, `${JSON.stringify(refused!.body)}\n${proc.describe()}`).toBe(503);
      expect(isErrorBody(refused!.body, 'service_unavailable')).toBe(true);
      const failedAt = Date.now();

      // Not ready, consistently (no flapping), and the process stays up.
      const samples: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await api.call('GET', '/readyz');
        samples.push(r.status);
        if (r.status === 503) expect(isErrorBody(r.body, 'service_unavailable')).toBe(true);
        await sleep(200);
      }
      expect(
        samples.every((s) => s === 503),
        `${samples.join(',')}\n${proc.describe()}`,
      ).toBe(true);
      const read = await api.call('GET', '/api/tickets');
      expect(read.status).toBe(503);
      expect(isErrorBody(read.body, 'service_unavailable')).toBe(true);
      const write = await createTicket(api, 'Still full');
      expect(write.status).toBe(503);
      expect(proc.running, proc.describe()).toBe(true);
      expect(proc.pid).toBe(pid);
      // A log line names the problem.
      const named = proc.lines.filter((l) => /disk full/.test(l.err?.message ?? ''));
      expect(named.length, proc.describe()).toBeGreaterThan(0);
      expect(named[0]!.err!.message).toContain(file);
      expect(proc.lines.filter((l) => (l.level ?? 0) >= 60)).toEqual([]);

      // Space returns: it serves again by itself.
      freeSpace(filler);
      const freedAt = Date.now();
      await until(
        '/readyz to answer 200 again',
        async () => (await api.status('/readyz')) === 200,
        15_000,
        () => proc.describe(),
      );
      const recoveredMs = Date.now() - freedAt;
      for (let i = 0; i < 5; i++) {
        const res = await createTicket(api, `After ${i}`);
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        created.push(res.body.id);
      }
      expect(proc.running).toBe(true);
      expect(proc.pid).toBe(pid);

      // Nothing accepted was lost, and every accepted ticket's delivery arrives.
      const ids = ticketIds(file);
      expect(created.filter((id) => !ids.has(id))).toEqual([]);
      const arrivedTickets = () =>
        new Set(
          receiver.received
            .filter((r) => r.path === '/full')
            .map((r) => JSON.parse(r.body.toString('utf8')).data.ticket.id as string),
        );
      await until(
        `deliveries of all ${created.length} accepted tickets to arrive`,
        () => created.every((id) => arrivedTickets().has(id)),
        2 * TIMEOUT_MS + 5_000 + 20_000,
        () => proc.describe(),
        250,
      );
      expect(new Set(receiver.received.map((r) => deliveryHeader(r.headers))).size).toBeGreaterThan(
        0,
      );
      await stop(proc.child);
      expect((await proc.exited).code, proc.describe()).toBe(0);
      expect(integrityCheck(file)).toBe('ok');
      console.log(
        `full disk: filled ${filled} bytes; first 503 after ${created.length - 5 - 5} more tickets; ` +
          `ready again ${recoveredMs} ms after space returned (${Date.now() - failedAt} ms since the first failure)`,
      );
    },
    90_000,
  );

  it.skipIf(noTmpfs !== null)(
    'a full disk at start: exits once saying so; with space again it starts with everything intact',
    async () => {
      const dir = lab.mountTmpfs(TMPFS_BYTES);
      const file = join(dir, 'data', 'hookdesk.db');
      mkdirSync(join(dir, 'data'));
      const seeded = await seed(file);
      const filler = join(dir, 'filler');
      fillDisk(filler);
      const line = await expectExitOnce(file, /disk full/);
      freeSpace(filler);
      expect(integrityCheck(file)).toBe('ok');

      const { api } = await startReady('after', file);
      const res = await createTicket(api, 'Space again');
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const ids = ticketIds(file);
      for (const id of [...seeded, res.body.id]) expect(ids.has(id), id).toBe(true);
      console.log(`full disk at start: ${line}`);
    },
    60_000,
  );
});
